// Package apidocs owns PulseStream's API description: the OpenAPI 3.1
// document of every route (openapi.json, embedded in the binary) and the
// human docs page that renders it. The page works offline under a strict
// Content-Security-Policy: its script and style sheet are embedded too and
// nothing is loaded from another origin.
//
// The document is written by hand. When a route, a field or a rule of the
// API changes, change openapi.json in the same commit; the tests here check
// that the document is well-formed and that its examples match its schemas,
// and httpapi's tests compare Routes with the routes the server mounts.
package apidocs
