package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"mnistc/model"
	"mnistc/onnx"
)

func init() {
	registered = append(registered, command{"export", "write a checkpoint or packed model as an ONNX model (QDQ form for quantized layers) for ONNX Runtime and other runtimes", runExport})
}

// exportOutput is what `export --json` prints.
type exportOutput struct {
	Model     string `json:"model"`
	Out       string `json:"out"`
	Bytes     int    `json:"bytes"`
	Arch      string `json:"arch"`
	Opset     int64  `json:"opset"`
	IRVersion int64  `json:"ir_version"`
	onnx.Report
}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", "export --model M.npz|M.mnc --out M.onnx [--int4] [--json]", stdout)
	in := fs.String("model", "", "checkpoint (.npz) or packed model (.mnc) to export; a checkpoint's weights that lie on a grid (quantized) are found as pack finds them")
	out := fs.String("out", "", "ONNX model to write (.onnx): input \"input\" float32 [N, inputs], output \"logits\" float32 [N, classes]")
	int4 := fs.Bool("int4", false, "store weights whose levels fit 4 bits as int4 (half the bytes; opset 21; ONNX Runtime 1.30 runs them slower than int8)")
	asJSON := fs.Bool("json", false, "print what each tensor became as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".onnx"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"model": *in}); err != nil {
		return err
	}
	if _, err := os.Stat(*in); err != nil {
		return fmt.Errorf("--model %s: %w", *in, err)
	}
	opt := onnx.Options{Int4: *int4}
	var m *onnx.Model
	var rep onnx.Report
	if isPacked(*in) {
		f, err := loadPacked(*in)
		if err != nil {
			return err
		}
		if m, rep, err = onnx.Export(f, opt); err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
	} else {
		ck, err := model.Load(*in)
		if err != nil {
			return err
		}
		if m, rep, err = onnx.FromCheckpoint(ck, opt); err != nil {
			return fmt.Errorf("%s: %w", *in, err)
		}
	}
	b := m.Marshal()
	if err := model.WriteFileAtomic(*out, b); err != nil {
		return err
	}
	res := exportOutput{Model: *in, Out: *out, Bytes: len(b), Opset: m.Opset, IRVersion: m.IRVersion, Report: rep}
	for _, p := range m.Props {
		if p[0] == "mnistc.arch" {
			res.Arch = p[1]
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(stderr, "mnistc export: note: %s\n", n)
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s: %s, %d bytes, ONNX opset %d (IR version %d), from %s\n", *out, res.Arch, res.Bytes, res.Opset, res.IRVersion, *in)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\tin the file\tin the ONNX graph\tbytes")
	for _, it := range rep.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", it.Name, it.From, it.As, it.Bytes)
	}
	return tw.Flush()
}
