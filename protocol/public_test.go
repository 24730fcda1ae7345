package protocol

import (
	"testing"
	"time"
)

func TestChange_ShownAt(t *testing.T) {
	now := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	before, after := now.Add(-time.Hour), now.Add(time.Hour)
	tests := []struct {
		name   string
		c      Change
		public bool
		shown  bool
	}{
		{"public", Change{Visibility: VisibilityPublic}, true, true},
		{"community", Change{Visibility: VisibilityCommunity}, false, false},
		{"youth", Change{Visibility: VisibilityYouth}, false, false},
		{"public deleted", Change{Visibility: VisibilityPublic, Deleted: true}, true, false},
		{"public erased", Change{Visibility: VisibilityPublic, Deleted: true, Erased: true}, true, false},
		{"community erased", Change{Visibility: VisibilityCommunity, Deleted: true, Erased: true}, false, false},
		{"due", Change{Visibility: VisibilityPublic, PublishAt: &before}, true, true},
		{"due this instant", Change{Visibility: VisibilityPublic, PublishAt: &now}, true, true},
		{"scheduled", Change{Visibility: VisibilityPublic, PublishAt: &after}, true, false},
		{"scheduled community", Change{Visibility: VisibilityCommunity, PublishAt: &before}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Public(); got != tt.public {
				t.Errorf("Public() = %v, want %v", got, tt.public)
			}
			if got := tt.c.ShownAt(now); got != tt.shown {
				t.Errorf("ShownAt() = %v, want %v", got, tt.shown)
			}
		})
	}
}
