package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mnistc/model"
)

// A README quotes a results folder's findings in a block between two
// markers, so that its figures are the report's, never typed by hand:
//
//	<!-- findings: results/article -->
//	…the Findings section of results/article/REPORT.md…
//	<!-- /findings -->
//
// UpdateReadme rewrites such blocks from the reports; a test checks that
// the committed README's blocks equal them.
const (
	blockOpen  = "<!-- findings: "
	blockClose = "<!-- /findings -->"
)

// FindingsOf returns the findings of a REPORT.md: the bullets of its
// "## Findings" section up to the next heading, trimmed.
func FindingsOf(reportMD string) (string, error) {
	i := strings.Index(reportMD, "\n## Findings\n")
	if i < 0 {
		return "", fmt.Errorf("no \"## Findings\" section")
	}
	body := reportMD[i+len("\n## Findings\n"):]
	if j := strings.Index(body, "\n#"); j >= 0 {
		body = body[:j]
	}
	return strings.TrimSpace(body), nil
}

// ReadmeBlocks returns the results folders a README quotes, in order,
// with the text each block holds now.
func ReadmeBlocks(readme string) (dirs, texts []string, err error) {
	rest := readme
	for {
		i := strings.Index(rest, blockOpen)
		if i < 0 {
			return dirs, texts, nil
		}
		rest = rest[i+len(blockOpen):]
		end := strings.Index(rest, " -->")
		if end < 0 {
			return nil, nil, fmt.Errorf("a %q marker is not closed with \" -->\"", strings.TrimSpace(blockOpen))
		}
		dir := strings.TrimSpace(rest[:end])
		rest = rest[end+len(" -->"):]
		j := strings.Index(rest, blockClose)
		if j < 0 {
			return nil, nil, fmt.Errorf("the findings block of %s has no %s", dir, blockClose)
		}
		dirs, texts = append(dirs, dir), append(texts, strings.TrimSpace(rest[:j]))
		rest = rest[j+len(blockClose):]
	}
}

// UpdateReadme rewrites, in the README at path, the findings block of the
// results folder dir (as the marker names it, relative to the README's
// folder) from dir's REPORT.md. The file is replaced atomically; a README
// with no block for dir is an error naming the marker to add.
func UpdateReadme(path, dir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	readme := string(b)
	name := filepath.ToSlash(filepath.Clean(dir))
	rep, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		return err
	}
	f, err := FindingsOf(string(rep))
	if err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(dir, ReportFile), err)
	}
	marker := blockOpen + name + " -->"
	i := strings.Index(readme, marker)
	if i < 0 {
		return fmt.Errorf("%s has no findings block for %s: add the lines %q and %q where it goes", path, name, marker, blockClose)
	}
	start := i + len(marker)
	j := strings.Index(readme[start:], blockClose)
	if j < 0 {
		return fmt.Errorf("%s: the findings block of %s has no %s", path, name, blockClose)
	}
	out := readme[:start] + "\n" + f + "\n" + readme[start+j:]
	if out == readme {
		return nil
	}
	return model.WriteFileAtomic(path, []byte(out))
}
