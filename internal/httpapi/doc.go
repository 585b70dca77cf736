// Package httpapi is PulseStream's HTTP interface: routes (net/http ServeMux
// patterns), middleware (request id, logging, metrics, security headers,
// authentication) and the one place where errors become HTTP statuses
// (errors.go). Handlers decode, call the domain services and encode; they
// hold no business rules.
package httpapi
