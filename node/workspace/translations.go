package workspace

func (ws *Workspace) mountTranslations() {
	ws.handle("GET "+PathTranslations, ws.placeholder("nav.translations", sectionTranslations), rolesContent...)
}
