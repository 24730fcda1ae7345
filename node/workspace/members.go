package workspace

func (ws *Workspace) mountMembers() {
	ws.handle("GET "+PathMembers, ws.placeholder("nav.members", sectionMembers), rolesMembers...)
}
