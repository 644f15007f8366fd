package robust

// Column is one named figure of a Result, for CSV files and tables.
type Column struct {
	Name     string
	Accuracy float64
}

// Columns flattens r into named accuracies in a stable order: clean,
// clean_pgd, then fgsm_ε, pgd_ε, transfer_fgsm_ε, transfer_pgd_ε for each ε
// of r.Eps in turn within each attack, then corrupt_NAME in the order of
// Corruptions and corrupt_mean. Figures r does not hold are left out, so
// Results of the same options give the same names.
func (r Result) Columns() []Column {
	cols := []Column{{"clean", r.Clean}, {"clean_pgd", r.CleanPGD}}
	for _, attack := range []struct {
		name string
		m    map[string]float64
	}{{"fgsm", r.FGSM}, {"pgd", r.PGD}, {"transfer_fgsm", r.TransferFGSM}, {"transfer_pgd", r.TransferPGD}} {
		for _, e := range r.Eps {
			if v, ok := attack.m[EpsKey(e)]; ok {
				cols = append(cols, Column{attack.name + "_" + EpsKey(e), v})
			}
		}
	}
	for _, name := range CorruptionNames() {
		if v, ok := r.Corrupt[name]; ok {
			cols = append(cols, Column{"corrupt_" + name, v})
		}
	}
	if r.CorruptMean != nil {
		cols = append(cols, Column{"corrupt_mean", *r.CorruptMean})
	}
	return cols
}
