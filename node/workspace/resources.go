package workspace

func (ws *Workspace) mountResources() {
	ws.handle("GET "+PathResources, ws.placeholder("nav.resources", sectionResources), rolesContent...)
}
