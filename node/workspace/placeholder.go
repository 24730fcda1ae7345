package workspace

import "net/http"

// placeholder serves a part's page that has only its title.
func (ws *Workspace) placeholder(title, section string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws.render(w, r, http.StatusOK, "placeholder", section, title)
	}
}
