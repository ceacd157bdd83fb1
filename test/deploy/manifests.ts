// Helpers of the deploy tests: render the kustomize overlays with kubectl, read istio/, validate
// objects against the kubernetes-models schemas, and walk pod specs. No cluster is needed.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** K8sObject is one rendered Kubernetes object, loosely typed (the schemas check the shape). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: any;
}

/** REPO_ROOT is the checkout (this file runs from dist/test/deploy). */
export const REPO_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "k8s")) || !existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the checkout (a folder with k8s/ and package.json) above the test");
    dir = up;
  }
  return dir;
})();

/** OVERLAYS are the kustomize overlays under k8s/overlays. */
export const OVERLAYS = ["dev", "prod"] as const;

/** SERVICES are the five gRPC services, with their ports (DESIGN.md sections 1 and 7). */
export const SERVICES = { scheduling: 8081, queue: 8082, lock: 8083, backup: 8084, patient: 8085 } as const;

/** COMPONENTS are the six Deployments: the gateway and the services. */
export const COMPONENTS = ["gateway", "scheduling", "queue", "lock", "backup", "patient"] as const;

/** kubectlMissing says why kubectl cannot render, or undefined when it can. */
export function kubectlMissing(): string | undefined {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return `kubectl is missing or broken (${(err as Error).message.split("\n")[0]}): the deploy tests render the overlays with \`kubectl kustomize\`; install kubectl (it is on the machine image)`;
  }
}

const rendered = new Map<string, K8sObject[]>();

/** renderOverlay runs `kubectl kustomize k8s/overlays/<name>` and parses every object (cached). */
export function renderOverlay(name: string): K8sObject[] {
  const cached = rendered.get(name);
  if (cached) return cached;
  const out = execFileSync("kubectl", ["kustomize", path.join(REPO_ROOT, "k8s/overlays", name)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const objects = parseYamlDocuments(out, `k8s/overlays/${name}`);
  rendered.set(name, objects);
  return objects;
}

/** parseYamlDocuments parses a multi-document YAML stream, failing on any YAML error. */
export function parseYamlDocuments(text: string, where: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value) objects.push(value as K8sObject);
  }
  return objects;
}

/** loadIstio reads every object of istio/*.yaml, with the file each came from. */
export function loadIstio(): (K8sObject & { file: string })[] {
  const dir = path.join(REPO_ROOT, "istio");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseYamlDocuments(readFileSync(path.join(dir, f), "utf8"), `istio/${f}`).map((o) => Object.assign(o, { file: f })));
}

/** id names an object for messages: "Deployment/lock". */
export function id(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name}`;
}

/** byKind returns the objects of one kind. */
export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** find returns the object of a kind and name, or undefined. */
export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata?.name === name);
}

/** modelPath maps apiVersion and kind to the kubernetes-models module that validates it, if any. */
export function modelPath(apiVersion: string, kind: string): string | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "") return `kubernetes-models/${version}/${kind}`;
  if (group.endsWith(".istio.io")) return `@kubernetes-models/istio/${group}/${version}/${kind}`;
  if (group.endsWith("cert-manager.io")) return `@kubernetes-models/cert-manager/${group}/${version}/${kind}`;
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  if (!group.includes(".") || group.endsWith(".k8s.io")) return `kubernetes-models/${group}/${version}/${kind}`;
  return undefined;
}

/**
 * validateObject checks an object against its schema (kubernetes-models and friends); it throws the
 * schema errors. Returns false when no offline schema exists for the kind (e.g. CloudNativePG).
 */
export async function validateObject(o: K8sObject): Promise<boolean> {
  const spec = modelPath(o.apiVersion, o.kind);
  if (!spec) return false;
  let mod: Record<string, any>;
  try {
    mod = await import(spec);
  } catch (err) {
    throw new Error(`${id(o)}: no schema module ${spec} (${(err as Error).message.split("\n")[0]}): unknown apiVersion/kind?`);
  }
  const Model = mod[o.kind] ?? mod.default?.[o.kind];
  if (typeof Model !== "function") throw new Error(`${id(o)}: ${spec} exports no ${o.kind}`);
  // kustomize wraps long base64 Secret data over lines; the API server's decoder skips the newlines.
  const value = o.kind === "Secret" && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, String(v).replace(/\s+/g, "")])) } : o;
  new Model(value).validate();
  return true;
}

/** PodOwner is a workload with a pod template. */
export interface PodOwner {
  object: K8sObject;
  template: any;
}

/** podOwners returns every Deployment, StatefulSet, Job and CronJob with its pod template. */
export function podOwners(objects: K8sObject[]): PodOwner[] {
  const out: PodOwner[] = [];
  for (const o of objects) {
    if (o.kind === "Deployment" || o.kind === "StatefulSet" || o.kind === "Job") out.push({ object: o, template: o.spec.template });
    if (o.kind === "CronJob") out.push({ object: o, template: o.spec.jobTemplate.spec.template });
  }
  return out;
}

/** containersOf returns a pod template's init and regular containers. */
export function containersOf(template: any): any[] {
  return [...(template.spec.initContainers ?? []), ...(template.spec.containers ?? [])];
}

/** selects tells whether a matchLabels selector selects the labels. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** envOf returns a container's env entries by name. */
export function envOf(container: any): Map<string, any> {
  return new Map((container.env ?? []).map((e: any) => [e.name, e]));
}

/** readRepoFile reads a file of the checkout. */
export function readRepoFile(rel: string): string {
  return readFileSync(path.join(REPO_ROOT, rel), "utf8");
}

/** listSourceFiles lists the .ts files under a folder of the checkout, recursively. */
export function listSourceFiles(rel: string): string[] {
  const dir = path.join(REPO_ROOT, rel);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => path.relative(REPO_ROOT, path.join(e.parentPath ?? (e as any).path, e.name)))
    .sort();
}
