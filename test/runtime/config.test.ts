// loadConfig (services/runtime/config.ts) alone: its defaults, values read from the environment,
// every problem reported in one ConfigError without the database password, and duration parsing.
import t from "tap";
import { ConfigError, loadConfig, parseDurationMs } from "../../services/runtime/config.js";

t.test("defaults", async (t) => {
  const c = loadConfig({}, { port: 8083 });
  t.equal(c.port, 8083);
  t.equal(c.metricsPort, 9464);
  t.equal(c.databaseUrl, undefined);
  t.equal(c.authMode, "jwt");
  t.equal(c.databasePreparedStatements, true);
  t.equal(c.lockStuckAfterMs, 30_000);
  t.equal(c.backupKeepPostgresMs, 14 * 86_400_000);
  t.equal(c.backupKeepRedisMs, 7 * 86_400_000);
  t.same(c.upstreams, { scheduling: [], queue: [], lock: [], backup: [], patient: [] });
  t.equal(c.demoClinic, "auto");
});

t.test("values", async (t) => {
  const c = loadConfig(
    {
      PORT: "9000",
      METRICS_PORT: "0",
      DATABASE_URL: "postgres://u:p@db:5432/x",
      DATABASE_PREPARED_STATEMENTS: "off",
      DEMO_CLINIC: "off",
      REDIS_URL: "redis://r:6379",
      LOCK_STUCK_AFTER: "45s",
      BACKUP_KEEP_POSTGRES: "30d",
      SCHEDULING_ADDR: "a:8081,b:8081",
      CORS_ORIGINS: "https://clinic.example, http://localhost:5173",
    },
    { port: 1 },
  );
  t.equal(c.port, 9000);
  t.equal(c.metricsPort, 0);
  t.equal(c.databasePreparedStatements, false);
  t.equal(c.demoClinic, "off");
  t.equal(c.lockStuckAfterMs, 45_000);
  t.equal(c.backupKeepPostgresMs, 30 * 86_400_000);
  t.same(c.upstreams.scheduling, ["a:8081", "b:8081"]);
  t.same(c.corsOrigins, ["https://clinic.example", "http://localhost:5173"]);
});

t.test("every problem in one error, never the password", async (t) => {
  try {
    loadConfig({ PORT: "eighty", DATABASE_URL: "mysql://root:hunter2@db/x", LOG_LEVEL: "loud", AUTH_MODE: "maybe", LOCK_STUCK_AFTER: "soon" }, { port: 1 });
    t.fail("should throw");
  } catch (err) {
    t.ok(err instanceof ConfigError);
    const msg = (err as Error).message;
    t.match(msg, /PORT must be a port number/);
    t.match(msg, /DATABASE_URL must start with postgres:\/\//);
    t.match(msg, /LOG_LEVEL must be one of/);
    t.match(msg, /AUTH_MODE must be "jwt" or "off"/);
    t.match(msg, /LOCK_STUCK_AFTER must be a duration/);
    t.notMatch(msg, /hunter2/, "no password in the message");
    t.notMatch(msg, /\n/, "one line");
  }
  t.throws(() => loadConfig({ PORT: "70000" }, { port: 1 }), ConfigError);
  t.throws(() => loadConfig({ DATABASE_URL: "not a url" }, { port: 1 }), ConfigError);
  t.throws(() => loadConfig({ REDIS_SENTINELS: "s1:26379" }, { port: 1 }), /REDIS_SENTINEL_NAME/);
  t.throws(() => loadConfig({ AUTH_HS256_SECRET: "short" }, { port: 1 }), /at least 32/);
  t.throws(() => loadConfig({ PAGE_TOKEN_SECRET: "short" }, { port: 1 }), /PAGE_TOKEN_SECRET must be at least 32/);
  t.equal(loadConfig({ PAGE_TOKEN_SECRET: "p".repeat(32) }, { port: 1 }).pageTokenSecret, "p".repeat(32));
  t.throws(() => loadConfig({ QUEUE_ADDR: "no-port" }, { port: 1 }), /host:port/);
  t.throws(() => loadConfig({ DATABASE_PREPARED_STATEMENTS: "yes" }, { port: 1 }), /DATABASE_PREPARED_STATEMENTS must be "on" or "off"/);
  t.throws(() => loadConfig({ DEMO_CLINIC: "yes" }, { port: 1 }), /DEMO_CLINIC must be "on" or "off"/);
});

t.test("durations", async (t) => {
  t.equal(parseDurationMs("500ms"), 500);
  t.equal(parseDurationMs("1h30m"), 5_400_000);
  t.equal(parseDurationMs("14d"), 14 * 86_400_000);
  t.equal(parseDurationMs("5"), undefined);
  t.equal(parseDurationMs(""), undefined);
  t.equal(parseDurationMs("3 days"), undefined);
});

t.test("AUTH_REQUIRE_LOCATIONS: off by default, on/true/1, anything else refused", async (t) => {
  t.equal(loadConfig({}, { port: 1 }).authRequireLocations, false);
  for (const v of ["on", "true", "1", "ON"]) t.equal(loadConfig({ AUTH_REQUIRE_LOCATIONS: v }, { port: 1 }).authRequireLocations, true, v);
  for (const v of ["off", "false", "0", ""]) t.equal(loadConfig({ AUTH_REQUIRE_LOCATIONS: v }, { port: 1 }).authRequireLocations, false, JSON.stringify(v));
  t.throws(() => loadConfig({ AUTH_REQUIRE_LOCATIONS: "yes please" }, { port: 1 }), ConfigError);
});
