// Package web holds what the node's workspace and the hub's console share:
// the page layout and its style sheet, a renderer that binds each request's
// language to the templates, the middleware for language, sessions, sign-in,
// roles and cross-site request forgery, and the error pages. It knows nothing
// of hubs or nodes: each passes its product name, navigation and pages in.
//
// Pages are html/template files that define "title" (the text of the
// document's title) and "content" (what goes inside the main landmark,
// starting with the page's one h1). Their text comes from the message
// catalogues through the template functions t and n.
package web
