package switchboard

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsUpToDate regenerates gen/ into a temporary directory
// with generate.sh (buf and the pinned plugins, without installing them) and
// fails on any difference, so the checked-in code never drifts from proto/.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "generate.sh", "--no-install", "--out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("generate.sh failed (%v): %s\nRun client/go/generate.sh once: it installs the pinned plugins into client/go/bin and needs buf from `npm ci`.", err, stderr.String())
	}
	fresh := filepath.Join(out, "client", "go", "gen")
	want := readTree(t, fresh)
	have := readTree(t, "gen")
	for name, w := range want {
		h, ok := have[name]
		switch {
		case !ok:
			t.Errorf("gen/%s is missing: run client/go/generate.sh", name)
		case !bytes.Equal(h, w):
			t.Errorf("gen/%s differs from what proto/ generates: run client/go/generate.sh", name)
		}
	}
	for name := range have {
		if _, ok := want[name]; !ok {
			t.Errorf("gen/%s is not generated from proto/ any more: run client/go/generate.sh", name)
		}
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", root)
	}
	return files
}
