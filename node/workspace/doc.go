// Package workspace is the web application a node serves to its Safer
// Internet Centre's people at its listen address: the dashboard of sync
// state, the SIC's resources and their attachments, the translation
// worklist, the SIC's profile, the community spaces its members read and
// write, its members and each member's account. It is server-rendered from
// html/template, works without JavaScript, and takes every word it shows
// from the message catalogues.
//
// The node's admin API keeps its own paths (/admin/v1/, /healthz, /readyz,
// /metrics); the node hands every other request to the workspace
// (node.SetWorkspace). The workspace uses the node's exported methods only,
// so whatever it does a script could do through the API, and it runs
// behind internal/web's middleware: language, session, and cross-site
// request forgery protection on every state change.
//
// Each part of the workspace lives in its own file with its own templates
// (templates/<part>*.html) and catalogue files
// (internal/locale/catalogues/<part>/<lang>.json), and registers its pages
// in a mount function with handle, which names the roles a page needs.
package workspace
