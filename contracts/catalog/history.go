package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// HistoryDir is the folder of a catalog file system that keeps every
// published revision of every schema: HistoryDir/<type>/<n>.json, n = 1, 2, ...
const HistoryDir = "history"

// CheckHistory enforces the catalog's change rule on a file system laid out
// like contracts/schemas:
//
//   - every <type>.json at the root has revisions HistoryDir/<type>/1.json
//     to N.json, numbered without gaps, and no history lacks its schema;
//   - the current <type>.json is the same JSON document as revision N, so no
//     change goes unrecorded (to change a schema, edit it and copy it to
//     revision N+1);
//   - every revision is BACKWARD_TRANSITIVE compatible with all revisions
//     before it (see CheckCompatibility).
//
// Revisions are append-only: once merged, a revision file is never edited.
// CheckHistory returns nil or every problem found, joined; compatibility
// failures are *CompatibilityErrors.
func CheckHistory(fsys fs.FS) error {
	current, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return err
	}
	var errs []error
	types := map[string]bool{}
	for _, name := range current {
		typ := strings.TrimSuffix(name, ".json")
		types[typ] = true
		if err := checkTypeHistory(fsys, typ); err != nil {
			errs = append(errs, err)
		}
	}
	dirs, err := fs.ReadDir(fsys, HistoryDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, d := range dirs {
		if !types[d.Name()] {
			errs = append(errs, fmt.Errorf("%s/%s: history of a type with no %s.json (a published type is never deleted)", HistoryDir, d.Name(), d.Name()))
		}
	}
	return errors.Join(errs...)
}

func checkTypeHistory(fsys fs.FS, typ string) error {
	dir := path.Join(HistoryDir, typ)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("%s.json: no revision history: copy it to %s/1.json", typ, dir)
	}
	var revs []int
	for _, e := range entries {
		n, err := strconv.Atoi(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil || n < 1 || !strings.HasSuffix(e.Name(), ".json") || e.IsDir() {
			return fmt.Errorf("%s/%s: revision files are named <n>.json, n = 1, 2, ...", dir, e.Name())
		}
		revs = append(revs, n)
	}
	slices.Sort(revs)
	for i, n := range revs {
		if n != i+1 {
			return fmt.Errorf("%s: revisions %v are not numbered 1..%d without gaps", dir, revs, len(revs))
		}
	}
	if len(revs) == 0 {
		return fmt.Errorf("%s.json: no revision history: copy it to %s/1.json", typ, dir)
	}
	docs := make([]SchemaDoc, len(revs))
	for i, n := range revs {
		name := path.Join(dir, strconv.Itoa(n)+".json")
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		docs[i] = SchemaDoc{Name: name, JSON: raw}
	}
	cur, err := fs.ReadFile(fsys, typ+".json")
	if err != nil {
		return err
	}
	last := docs[len(docs)-1]
	same, err := sameJSON(cur, last.JSON)
	if err != nil {
		return fmt.Errorf("%s.json or %s: %w", typ, last.Name, err)
	}
	if !same {
		return fmt.Errorf("%s.json differs from its latest revision %s: record the change as %s/%d.json",
			typ, last.Name, dir, len(revs)+1)
	}
	var errs []error
	for i := 1; i < len(docs); i++ {
		if err := CheckCompatibility(docs[:i], docs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sameJSON(a, b []byte) (bool, error) {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, err
	}
	return reflect.DeepEqual(x, y), nil
}
