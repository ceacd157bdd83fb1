// The shell: sign-in, navigation between the four screens, and a tiny history-based router.
import { useEffect, useState } from "react";
import { loadSession, saveSession, type Session } from "./api.js";
import { BookingScreen } from "./booking-screen.js";
import { DisplayScreen } from "./display-screen.js";
import { LoginScreen } from "./login-screen.js";
import { OperationsScreen } from "./operations-screen.js";
import { ReceptionScreen } from "./reception-screen.js";

/** SCREENS are the app's pages, each with the roles whose work it is (the server enforces the role table either way). */
const SCREENS = [
  { path: "/booking", label: "Booking", roles: ["patient", "receptionist", "admin"] },
  { path: "/reception", label: "Reception", roles: ["receptionist", "doctor", "admin"] },
  { path: "/display", label: "Display", roles: ["receptionist", "display", "admin"] },
  { path: "/operations", label: "Operations", roles: ["admin"] },
] as const;

/** screensFor lists the screens a session's roles use: a patient is not shown the reception desk. */
function screensFor(session: Session): (typeof SCREENS)[number][] {
  return SCREENS.filter((s) => s.roles.some((r) => session.roles.includes(r)));
}

/** navigate changes the page without a reload. */
export function navigate(to: string): void {
  window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const on = () => setPath(window.location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  return path;
}

/** homeFor is the first screen a role sees. */
function homeFor(session: Session): string {
  const r = session.roles;
  if (r.includes("display")) return "/display";
  if (r.includes("patient")) return "/booking";
  if (r.includes("admin")) return "/operations";
  return "/reception";
}

/** App is the whole web app. */
export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const signIn = (token: string) => {
    saveSession(token);
    const s = loadSession();
    setSession(s);
    if (s) navigate(new URLSearchParams(window.location.search).get("next") ?? homeFor(s));
  };
  const signOut = () => {
    saveSession(undefined);
    setSession(undefined);
    navigate("/login");
  };
  useEffect(() => {
    document.title = `MedSchedule${SCREENS.find((s) => path.startsWith(s.path)) ? " · " + SCREENS.find((s) => path.startsWith(s.path))!.label : ""}`;
  }, [path]);

  if (!session || path === "/login") return <LoginScreen onSignIn={signIn} session={session} />;
  if (path === "/" || path === "/index.html") {
    navigate(homeFor(session));
    return null;
  }
  // The display board is a kiosk: no navigation chrome.
  if (path.startsWith("/display")) return <DisplayScreen />;

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">MedSchedule</span>
        <nav aria-label="Screens">
          {screensFor(session).map((s) => (
            <a
              key={s.path}
              href={s.path}
              aria-current={path.startsWith(s.path) ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(s.path);
              }}
            >
              {s.label}
            </a>
          ))}
        </nav>
        <span className="who">
          <span className="muted small" data-testid="who">
            {session.roles.join(", ") || "no role"} · {session.subject}
          </span>
          <button type="button" className="link" onClick={signOut}>
            Switch user
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {path.startsWith("/booking") ? (
          <BookingScreen session={session} />
        ) : path.startsWith("/reception") ? (
          <ReceptionScreen session={session} />
        ) : path.startsWith("/operations") ? (
          <OperationsScreen />
        ) : (
          <section>
            <h1>Page not found</h1>
            <p>
              <a href="/">Go to the start page</a>
            </p>
          </section>
        )}
      </main>
    </div>
  );
}
