// Command podtemplatehash is a test oracle for k3rs' Deployment controller: the pod-template-hash
// upstream's controller gives a pod template (ComputeHash in k8s.io/kubernetes/pkg/controller:
// FNV-32a over the template's go-spew dump, dump.ForHash, plus the collision count, rendered
// with rand.SafeEncodeString). It has two modes:
//
//	podtemplatehash schema   prints the Go type graph of v1.PodTemplateSpec (names, kinds,
//	                         fields with their JSON names) as JSON; k3rs embeds it to write
//	                         the same dump from a JSON template.
//	podtemplatehash hash     reads JSON lines {"template": <PodTemplateSpec>, "collisionCount":
//	                         <int32 or null>} and prints for each {"hash": ..., "dump": ...}. The
//	                         template first goes through a protobuf round trip, as the controller
//	                         sees it (kube-controller-manager reads protobuf from the API server).
//
// Run the hash mode with TZ= (empty): times then decode into a local zone named "UTC", as in
// upstream's images (no /etc/localtime; the zone is initialised by the first log line).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

type field struct {
	Name   string `json:"name"`
	JSON   string `json:"json,omitempty"`
	Inline bool   `json:"inline,omitempty"`
	Type   int    `json:"type"`
}

type typeInfo struct {
	// Go is what reflect.Type.String() prints (what spew shows in parentheses).
	Go string `json:"go"`
	// Path is the package path and name of a named type ("" for unnamed ones).
	Path   string  `json:"path,omitempty"`
	Kind   string  `json:"kind"`
	Elem   *int    `json:"elem,omitempty"`
	Key    *int    `json:"key,omitempty"`
	Len    int     `json:"len,omitempty"`
	Fields []field `json:"fields,omitempty"`
}

type graph struct {
	ids   map[reflect.Type]int
	types []typeInfo
}

func (g *graph) add(t reflect.Type) int {
	if id, ok := g.ids[t]; ok {
		return id
	}
	id := len(g.types)
	g.ids[t] = id
	g.types = append(g.types, typeInfo{})
	info := typeInfo{Go: t.String(), Kind: t.Kind().String()}
	if t.Name() != "" && t.PkgPath() != "" {
		info.Path = t.PkgPath() + "." + t.Name()
	}
	switch t.Kind() {
	case reflect.Ptr, reflect.Slice, reflect.Array:
		e := g.add(t.Elem())
		info.Elem = &e
		if t.Kind() == reflect.Array {
			info.Len = t.Len()
		}
	case reflect.Map:
		k := g.add(t.Key())
		e := g.add(t.Elem())
		info.Key, info.Elem = &k, &e
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			fi := field{Name: f.Name, Type: g.add(f.Type)}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name != "-" && f.IsExported() {
				fi.JSON = name
				if name == "" {
					if strings.Contains(opts, "inline") || f.Anonymous {
						fi.Inline = true
					} else {
						fi.JSON = f.Name
					}
				}
			}
			info.Fields = append(info.Fields, fi)
		}
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
	default:
		fmt.Fprintf(os.Stderr, "unsupported kind %s in %s\n", t.Kind(), t)
		os.Exit(1)
	}
	g.types[id] = info
	return id
}

func computeHash(template *corev1.PodTemplateSpec, collisionCount *int32) (string, string) {
	text := dump.ForHash(*template)
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", text)
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32())), text
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: podtemplatehash schema|hash")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "schema":
		g := &graph{ids: map[reflect.Type]int{}}
		g.add(reflect.TypeOf(corev1.PodTemplateSpec{}))
		// One type per line: reviewable diffs when the pinned version moves.
		fmt.Println("[")
		for i, t := range g.types {
			out, err := json.Marshal(t)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			sep := ","
			if i == len(g.types)-1 {
				sep = ""
			}
			fmt.Printf("%s%s\n", out, sep)
		}
		fmt.Println("]")
	case "hash":
		// Initialise the local zone, as kube-controller-manager's logging has by then.
		_ = time.Local.String()
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		enc := json.NewEncoder(os.Stdout)
		for sc.Scan() {
			var in struct {
				Template       json.RawMessage `json:"template"`
				CollisionCount *int32          `json:"collisionCount"`
			}
			if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			var t corev1.PodTemplateSpec
			if err := json.Unmarshal(in.Template, &t); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			wire, err := t.Marshal()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			var decoded corev1.PodTemplateSpec
			if err := decoded.Unmarshal(wire); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			h, text := computeHash(&decoded, in.CollisionCount)
			if err := enc.Encode(map[string]string{"hash": h, "dump": text}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: podtemplatehash schema|hash")
		os.Exit(2)
	}
}
