// Package console is the web console served by the binary at / (the
// miniflux way: server-rendered html/template pages, templates and static
// files embedded, a little plain JavaScript, a strict Content-Security-
// Policy, no CDN).
//
// The console owns no data and has no path to the store: every page reads
// and changes state by calling the JSON API's router in process, with the
// person's own session cookie and the tenant in X-PulseStream-Tenant
// (Console.call), so the API's permission check (pulse.Role.Can), its
// validation, its audit log and its cross-origin protection apply to the
// console exactly as to any other client. Pages hide what the person's
// role may not do; the API refuses it anyway.
package console
