package main

import "testing"

func TestReplaceSection(t *testing.T) {
	section := "\n## The community\n\nnew figures\n"
	tests := []struct {
		name, report, want string
	}{
		{"appended", "# Benchmarks\n\n## Portal\n\nold\n", "# Benchmarks\n\n## Portal\n\nold\n\n## The community\n\nnew figures\n"},
		{"last replaced", "# B\n\n## Portal\n\np\n\n## The community\n\nold figures\nmore\n", "# B\n\n## Portal\n\np\n\n## The community\n\nnew figures\n"},
		{"middle replaced", "# B\n\n## The community\n\nold\n### sub\nx\n\n## Portal\n\np\n", "# B\n\n## The community\n\nnew figures\n\n## Portal\n\np\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replaceSection(tt.report, section); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
