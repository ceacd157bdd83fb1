// The shell: sign-in, navigation between the four screens, and a tiny history-based router.
import { useEffect, useState } from "react";
import { loadSession, saveSession, type Session } from "./api.js";
import { BookingScreen } from "./booking-screen.js";
import { DisplayScreen } from "./display-screen.js";
import { LoginScreen } from "./login-screen.js";
import { MyDetailsScreen } from "./my-details-screen.js";
import { OperationsScreen } from "./operations-screen.js";
import { PatientNamesScope } from "./patient-names.js";
import { PatientsScreen } from "./patients-screen.js";
import { patientLang, screenLabel } from "./patient-text.js";
import { homeFor, rolesOf, screenAt, SCREENS, screensFor, type Screen } from "./permissions.js";
import { ReceptionScreen } from "./reception-screen.js";

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

/** NotForRole is what a role sees at a screen that is not theirs (typed or bookmarked): a way home. */
function NotForRole({ screen, session }: { screen: Screen; session: Session }) {
  const home = homeFor(session);
  const homeScreen = SCREENS.find((s) => s.path === home);
  return (
    <section className="not-for-role" data-testid="not-for-role">
      <h1>Not for your role</h1>
      <p>
        {screen.label} ({screen.purpose}) is for the {rolesOf(screen).length === 1 ? "role" : "roles"} {listWords(rolesOf(screen))}. You are signed in as{" "}
        {listWords(session.roles) || "no role"}.
      </p>
      <p className="row">
        {homeScreen && (
          <a
            className="button primary"
            href={homeScreen.path}
            onClick={(e) => {
              e.preventDefault();
              navigate(homeScreen.path);
            }}
          >
            Go to {homeScreen.label}
          </a>
        )}
        <a
          className="button"
          href="/login"
          onClick={(e) => {
            e.preventDefault();
            navigate(`/login?next=${encodeURIComponent(screen.path)}`);
          }}
        >
          Sign in with another role
        </a>
      </p>
    </section>
  );
}

/** listWords joins words as "a, b or c". */
function listWords(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

/** App is the whole web app. */
export function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const signIn = (token: string) => {
    saveSession(token);
    const s = loadSession();
    setSession(s);
    if (s) navigate(new URLSearchParams(window.location.search).get("next") ?? homeFor(s) ?? "/");
  };
  const signOut = () => {
    saveSession(undefined);
    setSession(undefined);
    navigate("/login");
  };
  const screen = screenAt(path);
  useEffect(() => {
    document.title = `MedSchedule${screen ? ` · ${screenLabel(screen, patientLang())}` : ""}`;
  }, [screen]);

  if (!session || path === "/login") return <LoginScreen onSignIn={signIn} session={session} />;
  const home = homeFor(session);
  if ((path === "/" || path === "/index.html") && home) {
    navigate(home);
    return null;
  }
  // A screen opened by URL that the role does not use says so (the server would refuse its calls anyway).
  const allowed = screen !== undefined && screensFor(session).includes(screen);
  // The display board is a kiosk: no navigation chrome.
  if (allowed && screen.path === "/display") return <DisplayScreen />;

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
              aria-current={screen === s ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(s.path);
              }}
            >
              {screenLabel(s, patientLang())}
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
        <PatientNamesScope key={screen?.path ?? path}>
        {screen && !allowed ? (
          <NotForRole screen={screen} session={session} />
        ) : screen?.path === "/booking" ? (
          <BookingScreen session={session} />
        ) : screen?.path === "/reception" ? (
          <ReceptionScreen session={session} />
        ) : screen?.path === "/operations" ? (
          <OperationsScreen session={session} />
        ) : screen?.path === "/patients" ? (
          <PatientsScreen session={session} />
        ) : screen?.path === "/me" ? (
          <MyDetailsScreen session={session} />
        ) : !home ? (
          <section>
            <h1>No screen for your role</h1>
            <p>
              You are signed in as {listWords(session.roles) || "no role"}: none of the screens is for that role. <a href="/login">Sign in with another role</a>.
            </p>
          </section>
        ) : (
          <section>
            <h1>Page not found</h1>
            <p>
              <a href="/">Go to the start page</a>
            </p>
          </section>
        )}
        </PatientNamesScope>
      </main>
    </div>
  );
}
