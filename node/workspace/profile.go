package workspace

func (ws *Workspace) mountProfile() {
	ws.handle("GET "+PathProfile, ws.placeholder("nav.profile", sectionProfile), rolesContent...)
}
