// istio/: every object validates against its schema (Istio, cert-manager), and the traffic policy
// holds together: the ingress Gateway's TLS Secret is the cert-manager Certificate's, the routes
// reach real Services and ports with per-route timeouts and safe retries, every MedSchedule host has
// a DestinationRule with ISTIO_MUTUAL, pools and outlier detection; Telemetry, Sidecar and the
// ingress RequestAuthentication exist; the gateway forwards trace headers.
import t from "tap";
import { FORWARDED_HEADERS } from "../../gateway/forward.js";
import { COMPONENTS, find, id, kubectlMissing, loadIstio, renderOverlay, validateObject } from "./manifests.js";

const istio = loadIstio();
const of = (kind: string) => istio.filter((o) => o.kind === kind);

t.test("every istio/ object validates against its schema", async (t) => {
  for (const o of istio) {
    try {
      t.ok(await validateObject(o), `${o.file}: ${id(o)} has a schema and validates`);
    } catch (err) {
      t.fail(`${o.file}: ${id(o)}: ${(err as Error).message}`);
    }
  }
});

t.test("ingress: TLS from cert-manager, JWT check", async (t) => {
  const [gw] = of("Gateway");
  const [cert] = of("Certificate");
  t.ok(gw && cert, "a Gateway and a Certificate");
  const https = gw.spec.servers.find((s: any) => s.port.protocol === "HTTPS");
  t.equal(https?.tls?.mode, "SIMPLE", "HTTPS server terminates TLS");
  t.equal(https?.tls?.credentialName, cert.spec.secretName, "the Gateway uses the Certificate's Secret");
  t.equal(cert.metadata.namespace, "istio-system", "the Certificate's Secret is in the ingress gateway's namespace");
  t.same([...https.hosts].sort(), [...cert.spec.dnsNames].sort(), "the Gateway serves the certificate's names");
  t.ok(gw.spec.servers.some((s: any) => s.port.protocol === "HTTP" && s.tls?.httpsRedirect), "plain HTTP redirects to HTTPS");
  const [ra] = of("RequestAuthentication");
  t.equal(ra?.spec.selector?.matchLabels?.istio, gw.spec.selector.istio, "RequestAuthentication at the ingress gateway");
  t.ok(ra?.spec.jwtRules?.[0]?.issuer && ra.spec.jwtRules[0].jwksUri, "issuer and JWKS");
});

t.test("gateway forwards trace and request id headers", async (t) => {
  for (const h of ["traceparent", "x-request-id"]) t.ok(FORWARDED_HEADERS.includes(h), `gateway forwards ${h}`);
});

t.test("telemetry and egress", async (t) => {
  const [tel] = of("Telemetry");
  t.ok(tel?.spec.accessLogging?.length, "access logs");
  t.ok(tel?.spec.metrics?.some((m: any) => m.providers?.some((p: any) => p.name === "prometheus")), "Prometheus metrics");
  const [sc] = of("Sidecar");
  t.equal(sc?.spec.outboundTrafficPolicy?.mode, "REGISTRY_ONLY", "egress limited to registered hosts");
  t.ok(sc?.spec.egress?.[0]?.hosts?.includes("./*"), "the namespace itself");
});

const missing = kubectlMissing();
if (missing) {
  t.fail(missing);
} else {
  t.test("routes, retries, timeouts and destination rules match the rendered Services", async (t) => {
    const objects = renderOverlay("prod");
    const host = (h: string) => h.replace(/\.medschedule\.svc\.cluster\.local$/, "");
    for (const vs of of("VirtualService")) {
      for (const r of vs.spec.http) {
        const where = `${vs.metadata.name}/${r.name}`;
        for (const d of r.route) {
          const svc = find(objects, "Service", host(d.destination.host));
          t.ok(svc, `${where}: destination ${d.destination.host} is a Service`);
          t.ok(svc?.spec.ports.some((p: any) => p.port === d.destination.port.number && p.name === "grpc"), `${where}: port ${d.destination.port.number} is its grpc port`);
        }
        if (vs.spec.gateways) t.ok(r.timeout, `${where}: a per-route timeout`);
        if (r.retries?.attempts) {
          const on = String(r.retries.retryOn).split(",");
          t.ok(on.includes("connect-failure"), `${where}: retries on connect-failure`);
          const lock = /lock/i.test(where) || /LockService/.test(JSON.stringify(r.match ?? []));
          if (lock) t.notOk(on.includes("unavailable"), `${where}: lock RPCs (no requestId) are not retried once they reached a server`);
          t.ok(on.every((x) => ["unavailable", "connect-failure", "refused-stream", "reset", "gateway-error"].includes(x)), `${where}: retries only on transport failures and UNAVAILABLE`);
        }
      }
    }
    const ingress = of("VirtualService").find((v) => v.spec.gateways)!;
    t.ok(ingress.spec.http.some((r: any) => /unavailable/.test(r.retries?.retryOn ?? "")), "ingress retries on unavailable");
    const streams = ingress.spec.http.find((r: any) => r.name === "watch-streams");
    t.equal(streams?.timeout, "0s", "server streams have no route timeout");
    t.equal(ingress.spec.http.at(-1).match[0].uri.prefix, "/", "the catch-all route is last");
    for (const name of COMPONENTS) {
      const dr = of("DestinationRule").find((d) => host(d.spec.host) === name);
      t.equal(dr?.spec.trafficPolicy?.tls?.mode, "ISTIO_MUTUAL", `${name}: ISTIO_MUTUAL`);
      t.ok(dr?.spec.trafficPolicy?.connectionPool?.http && dr.spec.trafficPolicy.connectionPool.tcp, `${name}: connection pools`);
      t.ok(dr?.spec.trafficPolicy?.outlierDetection?.baseEjectionTime, `${name}: outlier detection`);
      t.ok(dr && dr.spec.trafficPolicy.outlierDetection.maxEjectionPercent <= 50, `${name}: never ejects more than half`);
    }
  });
}
