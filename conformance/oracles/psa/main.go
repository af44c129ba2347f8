// Command psa_oracle is a test oracle for k3rs' PodSecurity admission checks: it reads every pod
// fixture of upstream's k8s.io/pod-security-admission test data (a directory given as the only
// argument), drops duplicates, and prints one JSON object per distinct pod: the pod as upstream
// decodes it, and upstream's verdict for every level and version ("" when allowed, else the
// ForbiddenDetail text the admission message is built from).
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type entry struct {
	File    string            `json:"file"`
	Pod     *corev1.Pod       `json:"pod"`
	Results map[string]string `json:"results"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: psa_oracle <testdata dir>")
		os.Exit(2)
	}
	root := os.Args[1]
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.Strings(files)
	var versions []api.Version
	for minor := 0; minor <= 37; minor++ {
		versions = append(versions, api.MajorMinorVersion(1, minor))
	}
	versions = append(versions, api.LatestVersion())
	seen := map[string]bool{}
	out := json.NewEncoder(os.Stdout)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pod := &corev1.Pod{}
		if err := yaml.UnmarshalStrict(data, pod); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(1)
		}
		canonical, _ := json.Marshal(pod)
		if seen[string(canonical)] {
			continue
		}
		seen[string(canonical)] = true
		e := entry{Pod: pod, Results: map[string]string{}}
		e.File, _ = filepath.Rel(root, f)
		for _, level := range []api.Level{api.LevelBaseline, api.LevelRestricted} {
			for _, v := range versions {
				lv := api.LevelVersion{Level: level, Version: v}
				r := policy.AggregateCheckResults(evaluator.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec))
				e.Results[lv.String()] = r.ForbiddenDetail()
			}
		}
		if err := out.Encode(e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
