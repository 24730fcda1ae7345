package markup

import (
	"strings"

	"github.com/yuin/goldmark/parser"
)

const (
	// MaxLine is the longest line a source may have, in bytes. Some
	// Markdown constructs (unclosed link destinations, runs of brackets)
	// cost the parser time in proportion to the square of a line's length;
	// 8 KiB is a paragraph of well over a thousand words.
	MaxLine = 8 << 10
	// MaxCells bounds the cells of one table, header and padding included:
	// GitHub tables pad short rows to the header's width, so a wide header
	// over many one-character rows would otherwise build millions of cells.
	MaxCells = 16 << 10
)

// precheck refuses, before any parsing, the shapes of source whose parse
// would cost far more than their length: overlong lines, lines that open
// more than MaxDepth nested quotes or lists at once, and tables of more
// than MaxCells cells.
func precheck(src string) error {
	// A lone carriage return ends a line too.
	lines := strings.Split(newlines.Replace(src), "\n")
	for i, line := range lines {
		if len(line) > MaxLine {
			return ErrTooComplex
		}
		depth, rest := openers(line)
		if depth > MaxDepth {
			return ErrTooComplex
		}
		// A table may sit in a quote or a list item: its delimiter row is
		// what follows their markers.
		if cols := delimiterColumns(rest); cols > 0 {
			rows := 1 // the header above the delimiter row
			for _, next := range lines[i+1:] {
				if strings.TrimSpace(next) == "" {
					break
				}
				rows++
			}
			if cols*rows > MaxCells {
				return ErrTooComplex
			}
		}
	}
	return nil
}

var newlines = strings.NewReplacer("\r\n", "\n", "\r", "\n")

// openers counts the block quote and list markers that start line, each
// of which opens one more level of nesting, and returns what follows them.
func openers(line string) (n int, rest string) {
	if isThematicBreak(line) {
		return 0, line
	}
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			return n, ""
		}
		switch c := line[i]; {
		case c == '>':
			n++
			i++
		case c == '-' || c == '+' || c == '*':
			if i+1 < len(line) && (line[i+1] == ' ' || line[i+1] == '\t') {
				n++
				i += 2
				continue
			}
			return n, line[i:]
		case c >= '0' && c <= '9':
			j := i
			for j < len(line) && j-i < 10 && line[j] >= '0' && line[j] <= '9' {
				j++
			}
			if j < len(line) && (line[j] == '.' || line[j] == ')') &&
				(j+1 == len(line) || line[j+1] == ' ' || line[j+1] == '\t') {
				n++
				i = j + 1
				continue
			}
			return n, line[i:]
		default:
			return n, line[i:]
		}
	}
}

// isThematicBreak reports whether line is a rule such as "* * * *", whose
// markers open nothing however many there are.
func isThematicBreak(line string) bool {
	var mark byte
	count := 0
	for i := range len(line) {
		switch c := line[i]; c {
		case ' ', '\t':
		case '-', '*', '_':
			if mark != 0 && c != mark {
				return false
			}
			mark = c
			count++
		default:
			return false
		}
	}
	return count >= 3
}

// delimiterColumns is the number of columns of a table's delimiter row
// (such as "|---|:-:|"), or 0 when line is not one.
func delimiterColumns(line string) int {
	t := strings.TrimSpace(line)
	if !strings.Contains(t, "|") || !strings.Contains(t, "-") {
		return 0
	}
	for i := range len(t) {
		switch t[i] {
		case '|', '-', ':', ' ', '\t':
		default:
			return 0
		}
	}
	t = strings.TrimSuffix(strings.TrimPrefix(t, "|"), "|")
	return strings.Count(t, "|") + 1
}

// expansionKey marks, in the parser's context, a document whose links
// repeat more destination and title bytes than a render may write: a
// reference definition with a long address used thousands of times.
var expansionKey = parser.NewContextKey()
