// Package markup is the one place where members' Markdown becomes HTML.
//
// Community posts, comments and blog posts are written in Markdown
// (CommonMark with the GitHub tables, strikethrough, autolinks and task
// lists). Render turns such text into HTML that has been through a
// bluemonday allow-list, so the result may be stored and shown as it is;
// Excerpt and Text give its plain text for lists, digests and the search
// index. The package knows nothing of the node or the hub: both the
// workspace and the console call it, so a post looks the same on both sides
// and one set of rules decides what a member's text may contain.
//
// The rules, for the readers of docs/community.md:
//
//   - Raw HTML in the source is never rendered: it is shown as the text the
//     author typed, escaped.
//   - Headings move one level down (# becomes h2, ## h3, ### and deeper h4),
//     so a post never outranks the page's own h1.
//   - Links keep http, https, mailto and relative addresses only, and carry
//     rel="nofollow ugc noopener noreferrer".
//   - Images are shown only from the network's own attachment URLs,
//     /files/<sha256>/<name>; any other image becomes its alternative text.
//   - No style, class, id or event attribute, and no script, iframe, object,
//     embed, form or input element survives.
//   - The source is at most MaxSize bytes (ErrTooLong). A source with a
//     line longer than MaxLine, nested more than MaxDepth levels deep, with
//     a table of more than MaxCells cells, or that would render to more
//     than MaxOutput bytes is refused with ErrTooComplex, before the parser
//     spends more than a moment on it.
package markup
