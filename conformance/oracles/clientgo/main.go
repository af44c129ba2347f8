// Command clientgo is a test helper of k3rs (run by cmd/k3rs/tests/protobuf.rs, never shipped).
// It checks k3rs's protobuf encoding against upstream's Go code:
//
//	clientgo encode               JSON objects (a JSON array on stdin) -> upstream's protobuf, hex, one per line
//	clientgo decode               hex protobuf bodies (one per line on stdin) -> upstream's JSON, one per line
//	clientgo e2e <kubeconfig> <ns> a client-go typed clientset speaking protobuf against a running server
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/tools/clientcmd"
)

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: clientgo encode|decode|e2e ...")
	}
	switch os.Args[1] {
	case "encode":
		encode()
	case "decode":
		decode()
	case "e2e":
		if len(os.Args) != 4 {
			die("usage: clientgo e2e <kubeconfig> <namespace>")
		}
		e2e(os.Args[2], os.Args[3])
	default:
		die("unknown mode %q", os.Args[1])
	}
}

func encode() {
	var objs []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&objs); err != nil {
		die("reading stdin: %v", err)
	}
	s := fullScheme()
	pb := protobuf.NewSerializer(s, s)
	decoder := serializer.NewCodecFactory(s).UniversalDeserializer()
	for i, raw := range objs {
		obj, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			die("object %d: %v", i, err)
		}
		var buf bytes.Buffer
		if err := pb.Encode(obj, &buf); err != nil {
			die("object %d: %v", i, err)
		}
		fmt.Println(hex.EncodeToString(buf.Bytes()))
	}
}

// fullScheme is client-go's scheme plus the meta.k8s.io kinds (PartialObjectMetadata, ...) and
// apiextensions.k8s.io/v1 (CustomResourceDefinition).
func fullScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := scheme.AddToScheme(s); err != nil {
		die("scheme: %v", err)
	}
	if err := metav1.AddMetaToScheme(s); err != nil {
		die("scheme: %v", err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		die("scheme: %v", err)
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}

func decode() {
	s := fullScheme()
	pb := protobuf.NewSerializer(s, s)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			die("bad hex: %v", err)
		}
		obj, gvk, err := pb.Decode(b, nil, nil)
		if err != nil {
			die("decoding: %v", err)
		}
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
		out, err := json.Marshal(obj)
		if err != nil {
			die("marshal: %v", err)
		}
		fmt.Println(string(out))
	}
}

func check(cond bool, format string, args ...any) {
	if !cond {
		die("FAIL: "+format, args...)
	}
}

// e2e drives a typed clientset with protobuf requests and responses: create, get, list, watch,
// update, patch status, delete, and an error Status.
func e2e(kubeconfig, ns string) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		die("kubeconfig: %v", err)
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		die("clientset: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	check(err == nil, "create namespace: %v", err)

	// Watch first, so the events of everything below arrive on it.
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	check(err == nil, "list pods: %v", err)
	check(len(list.Items) == 0, "fresh namespace has pods: %d", len(list.Items))
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	check(err == nil, "watch pods: %v", err)
	defer w.Stop()

	grace := int64(5)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "pb-pod",
			Labels:      map[string]string{"app": "pb", "tier": "test"},
			Annotations: map[string]string{"note": "protobuf all the way"},
		},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:    "c",
				Image:   "busybox:1.36",
				Command: []string{"sh", "-c", "sleep 3600"},
				Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env: []corev1.EnvVar{
					{Name: "PLAIN", Value: "v"},
					{Name: "FROM_CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
					InitialDelaySeconds: 3,
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
				},
			}},
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	check(err == nil, "create pod: %v", err)
	check(created.UID != "" && created.ResourceVersion != "", "created pod lacks uid/resourceVersion: %+v", created.ObjectMeta)
	check(!created.CreationTimestamp.IsZero(), "created pod lacks creationTimestamp")
	check(created.Spec.Containers[0].Resources.Requests.Cpu().String() == "250m", "cpu request: %v", created.Spec.Containers[0].Resources.Requests)
	check(created.Spec.Containers[0].ReadinessProbe != nil && created.Spec.Containers[0].ReadinessProbe.HTTPGet != nil &&
		created.Spec.Containers[0].ReadinessProbe.HTTPGet.Port == intstr.FromString("http"), "readiness probe lost: %+v", created.Spec.Containers[0].ReadinessProbe)
	check(created.Spec.Containers[0].LivenessProbe.TCPSocket.Port == intstr.FromInt32(8080), "liveness probe port: %+v", created.Spec.Containers[0].LivenessProbe)
	check(created.Spec.Containers[0].Env[1].ValueFrom.ConfigMapKeyRef.Name == "cm", "inline LocalObjectReference lost: %+v", created.Spec.Containers[0].Env[1])
	check(created.Spec.Volumes[0].EmptyDir != nil, "inline VolumeSource lost: %+v", created.Spec.Volumes[0])

	got, err := cs.CoreV1().Pods(ns).Get(ctx, "pb-pod", metav1.GetOptions{})
	check(err == nil, "get pod: %v", err)
	check(reflect.DeepEqual(got.Spec.Containers, created.Spec.Containers), "get differs from create:\n%+v\n%+v", got.Spec.Containers, created.Spec.Containers)
	check(reflect.DeepEqual(got.Labels, pod.Labels), "labels: %v", got.Labels)
	check(got.CreationTimestamp.Equal(&created.CreationTimestamp), "creationTimestamp differs")

	got.Labels["tier"] = "updated"
	updated, err := cs.CoreV1().Pods(ns).Update(ctx, got, metav1.UpdateOptions{})
	check(err == nil, "update pod: %v", err)
	check(updated.Labels["tier"] == "updated" && updated.ResourceVersion != got.ResourceVersion, "update not applied: %+v", updated.ObjectMeta)

	updated.Status.Phase = corev1.PodRunning
	updated.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	st, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	check(err == nil, "update status: %v", err)
	check(st.Status.Phase == corev1.PodRunning && len(st.Status.Conditions) == 1 && !st.Status.Conditions[0].LastTransitionTime.IsZero(), "status: %+v", st.Status)

	list, err = cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=pb"})
	check(err == nil, "list pods: %v", err)
	check(len(list.Items) == 1 && list.Items[0].Name == "pb-pod" && list.ResourceVersion != "", "list: %d items, rv %q", len(list.Items), list.ResourceVersion)

	// A typed Deployment, too (apps group, IntOrString in the strategy, a nested pod template).
	replicas := int32(2)
	maxSurge := intstr.FromString("25%")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pb-dep"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	check(err == nil, "create deployment: %v", err)
	check(*d.Spec.Replicas == 2 && d.Spec.Strategy.RollingUpdate.MaxSurge.String() == "25%", "deployment: %+v", d.Spec)
	check(d.Spec.Template.Spec.Containers[0].TerminationMessagePath != "", "deployment template not defaulted: %+v", d.Spec.Template.Spec.Containers[0])

	// Errors come back as a Status the client understands.
	_, err = cs.CoreV1().Pods(ns).Get(ctx, "missing", metav1.GetOptions{})
	check(apierrors.IsNotFound(err), "get missing pod: want NotFound, got %v", err)
	_, err = cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	check(apierrors.IsAlreadyExists(err), "create twice: want AlreadyExists, got %v", err)

	err = cs.CoreV1().Pods(ns).Delete(ctx, "pb-pod", metav1.DeleteOptions{})
	check(err == nil, "delete pod: %v", err)

	// The watch saw ADDED, two MODIFIED (update, status) and then the deletion (a MODIFIED
	// setting deletionTimestamp and/or DELETED).
	var types []watch.EventType
	for len(types) < 4 {
		select {
		case ev, ok := <-w.ResultChan():
			check(ok, "watch closed early after %v", types)
			check(ev.Type != watch.Error, "watch error event: %+v", ev.Object)
			p, isPod := ev.Object.(*corev1.Pod)
			check(isPod, "watch object is %T", ev.Object)
			check(p.Name == "pb-pod", "watch object name %q", p.Name)
			if ev.Type == watch.Added {
				check(p.Spec.Containers[0].ReadinessProbe.HTTPGet.Path == "/healthz", "watched pod spec: %+v", p.Spec.Containers[0])
			}
			types = append(types, ev.Type)
		case <-ctx.Done():
			die("FAIL: timed out waiting for watch events; got %v", types)
		}
	}
	check(types[0] == watch.Added && types[1] == watch.Modified && types[2] == watch.Modified, "watch event types: %v", types)
	check(types[3] == watch.Modified || types[3] == watch.Deleted, "watch event types: %v", types)
	fmt.Printf("ok: create/get/update/updateStatus/list/watch(%v)/delete over protobuf\n", types)
}
