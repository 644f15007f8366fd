package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"mnistc/mnc"
	"mnistc/model"
)

// packOutput is what `pack --json` and `inspect --json` print.
type packOutput struct {
	File       string        `json:"file"`
	Bytes      int           `json:"bytes"`
	FloatBytes int           `json:"float32_bytes"`
	Ratio      float64       `json:"ratio"`
	MetaBytes  int           `json:"meta_bytes"`
	Tensors    []tensorStats `json:"tensors"`
}

type tensorStats struct {
	Name            string  `json:"name"`
	Shape           []int   `json:"shape"`
	Weights         int     `json:"weights"`
	Kept            int     `json:"kept"`
	Encoding        string  `json:"encoding"`
	CodeBits        float64 `json:"code_bits_per_kept"`         // before Huffman
	CodeBitsHuffman float64 `json:"code_bits_per_kept_huffman"` // as stored
	IndexBits       float64 `json:"index_bits_per_kept"`
	IndexBitsHuff   float64 `json:"index_bits_per_kept_huffman"`
	GroupBytes      int     `json:"group_bytes"`
	Bytes           int     `json:"bytes"`
	Ratio           float64 `json:"ratio"`
}

func describeFile(path string, f *mnc.File) packOutput {
	out := packOutput{File: path, Bytes: f.Size, MetaBytes: f.MetaBytes}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		st := t.Stats
		ts := tensorStats{Name: t.Name, Shape: t.Shape, Weights: t.Len(), Kept: t.Kept(), Encoding: t.Describe(),
			GroupBytes: st.GroupBytes, Bytes: st.PayloadBytes}
		if t.Map == mnc.Float {
			ts.CodeBits, ts.CodeBitsHuffman = 32, 32
			if k := float64(max(1, t.Kept())); t.Sparse {
				ts.IndexBits, ts.IndexBitsHuff = float64(st.IndexBitsFixed)/k, float64(st.IndexBitsStored)/k
			}
		} else {
			k := float64(max(1, t.Kept()))
			ts.CodeBits, ts.CodeBitsHuffman = float64(st.CodeBitsFixed)/k, float64(st.CodeBitsStored)/k
			ts.IndexBits, ts.IndexBitsHuff = float64(st.IndexBitsFixed)/k, float64(st.IndexBitsStored)/k
		}
		ts.Ratio = float64(4*t.Len()) / float64(max(1, st.PayloadBytes))
		out.FloatBytes += 4 * t.Len()
		out.Tensors = append(out.Tensors, ts)
	}
	out.Ratio = float64(out.FloatBytes) / float64(max(1, out.Bytes))
	return out
}

// printTable writes the per-tensor table of Deep Compression's Table 2–5:
// weights, kept %, bits per kept weight and per index before and after
// Huffman, bytes and the ratio to float32.
func printTable(w io.Writer, p packOutput) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\tshape\tweights\tkept\tencoding\tcode bits\tindex bits\tbytes\tvs float32")
	for _, t := range p.Tensors {
		idx := "-"
		if t.IndexBits > 0 {
			idx = fmt.Sprintf("%.2f → %.2f", t.IndexBits, t.IndexBitsHuff)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%s\t%.2f → %.2f\t%s\t%d\t%.1f×\n", t.Name, shapeText(t.Shape), t.Weights,
			100*float64(t.Kept)/float64(max(1, t.Weights)), t.Encoding, t.CodeBits, t.CodeBitsHuffman, idx, t.Bytes, t.Ratio)
	}
	fmt.Fprintf(tw, "metadata\t\t\t\tJSON, deflated\t\t\t%d\t\n", p.MetaBytes)
	fmt.Fprintf(tw, "file\t\t\t\t(header, framing, CRCs included)\t\t\t%d\t%.1f×\n", p.Bytes, p.Ratio)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "(code and index bits are per kept weight, fixed width → as stored with Huffman; ratios against float32)")
	return err
}

func shapeText(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

func runPack(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pack", "pack --model IN.npz --out M.mnc [--lean] [--json]", stderr)
	in := fs.String("model", "", "checkpoint to pack (.npz)")
	out := fs.String("out", "", "packed model to write (.mnc)")
	lean := fs.Bool("lean", false, "keep only the metadata a deployed model needs (activation ranges, recipe, source), as the sweeps' real-size column does; default: all of it")
	asJSON := fs.Bool("json", false, "print the per-tensor table as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".mnc"); err != nil {
		return err
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if *lean {
		ck.Meta = mnc.Lean(ck.Meta)
	}
	b, f, err := mnc.Pack(ck)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := model.WriteFileAtomic(*out, b); err != nil {
		return err
	}
	p := describeFile(*out, f)
	if *asJSON {
		return printJSON(stdout, p)
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %.1f× smaller than the %d bytes of float32 parameters\n", *out, p.Bytes, p.Ratio, p.FloatBytes)
	return printTable(stdout, p)
}

func runUnpack(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unpack", "unpack --model M.mnc --out OUT.npz", stderr)
	in := fs.String("model", "", "packed model to read (.mnc)")
	out := fs.String("out", "", "checkpoint to write (.npz, the packed values bit for bit)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	f, err := loadPacked(*in)
	if err != nil {
		return err
	}
	ck, err := f.Checkpoint()
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := ck.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d parameters from %s (%d bytes)\n", *out, ck.Params.Count(), *in, f.Size)
	return nil
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect M.mnc [--json]", stderr)
	asJSON := fs.Bool("json", false, "print the per-tensor table as JSON")
	path := fs.String("model", "", "packed model (.mnc); or give it as the argument")
	// the file may come anywhere among the flags: take the arguments that
	// are neither flags nor --model's value out before parsing
	var flags, files []string
	for i, a := range args {
		if !strings.HasPrefix(a, "-") && (i == 0 || (args[i-1] != "--model" && args[i-1] != "-model")) {
			files = append(files, a)
		} else {
			flags = append(flags, a)
		}
	}
	if err := fs.parse(flags); err != nil {
		return err
	}
	if len(files) > 1 || (len(files) == 1 && *path != "") {
		return usagef("want one packed model, got %q", append(files, *path))
	}
	if len(files) == 1 {
		*path = files[0]
	}
	if *path == "" {
		return usagef("a packed model (.mnc) is required")
	}
	f, err := loadPacked(*path)
	if err != nil {
		return err
	}
	p := describeFile(*path, f)
	if *asJSON {
		return printJSON(stdout, p)
	}
	fmt.Fprintf(stdout, "%s: mnc version %d, %d bytes, %.1f× smaller than float32 (%d bytes)\n", *path, mnc.Version, p.Bytes, p.Ratio, p.FloatBytes)
	if aq := f.Meta.ActQuant; aq != nil {
		fmt.Fprintf(stdout, "activations: %d bits (%s), input [%g, %g], hidden [%g, %g]\n", aq.Bits, aq.Calib, aq.Input.Lo, aq.Input.Hi, aq.Hidden.Lo, aq.Hidden.Hi)
	}
	return printTable(stdout, p)
}

// loadPacked reads and decodes a .mnc file; errors name the file.
func loadPacked(path string) (*mnc.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
