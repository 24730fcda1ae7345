package portal

// RenderGalleryByTemplate makes p render the gallery from its template
// instead of the Go writer, for comparing the two.
func RenderGalleryByTemplate(p *Portal, on bool) { p.galleryByTemplate.Store(on) }
