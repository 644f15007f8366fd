package experiments

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"mnistc/model"
)

// ReadLog reads the records of a JSON-lines log. A torn last line (a run
// killed mid-write) is reported by torn and skipped; a malformed line
// elsewhere is an error naming it.
func ReadLog(path string) (recs []Record, torn bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			last := !bytes.HasSuffix(b, []byte("\n")) && bytes.HasSuffix(b, sc.Bytes())
			if last {
				return recs, true, nil
			}
			return nil, false, fmt.Errorf("%s:%d: not a record: %v", path, line, err)
		}
		recs = append(recs, r)
	}
	return recs, false, sc.Err()
}

// repairLog rewrites the log without a torn last line, atomically.
func repairLog(path string, recs []Record) error {
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return model.WriteFileAtomic(path, buf.Bytes())
}

// appender appends records to a log, one line per write, synced.
type appender struct{ f *os.File }

func openAppender(path string) (*appender, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &appender{f}, nil
}

// add writes r as one line with a single write and syncs it to disk.
func (a *appender) add(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return a.f.Sync()
}

func (a *appender) close() error { return a.f.Close() }
