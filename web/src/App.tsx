import { Component, lazy, Suspense, useEffect, useRef, type ReactNode } from "react";
import { useT } from "./i18n";
import { useSessionStatus } from "./auth/useSession";
import { Link, matchPath, navigate, safeNext, useLocation } from "./router";
import { Header } from "./components/Header";
import { SignIn } from "./pages/SignIn";
import { LibraryPage } from "./pages/Library";
import { AccountPage } from "./pages/Account";
import { RecordingPage } from "./pages/Recording";

// The history page is opened rarely: it loads on demand.
const HistoryPage = lazy(() => import("./pages/History").then((m) => ({ default: m.HistoryPage })));

/**
 * A page whose code cannot be loaded (a deploy replaced the build under an open tab, so its
 * chunk is gone) or that throws: say so and offer a reload, instead of a blank page.
 */
class PageFailure extends Component<{ children: ReactNode; message: string; action: string; path: string }, { failed: boolean; path: string }> {
  override state = { failed: false, path: this.props.path };

  static getDerivedStateFromError(): Partial<{ failed: boolean }> {
    return { failed: true };
  }

  static getDerivedStateFromProps(
    props: { path: string },
    state: { failed: boolean; path: string },
  ): Partial<{ failed: boolean; path: string }> | null {
    return props.path !== state.path ? { failed: false, path: props.path } : null;
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert">
        <p>{this.props.message}</p>
        <button type="button" className="primary" onClick={() => window.location.reload()}>
          {this.props.action}
        </button>
      </div>
    );
  }
}

function Page({ path }: { path: string }) {
  const t = useT();
  if (path === "/") return <LibraryPage />;
  if (path === "/account") return <AccountPage />;
  const history = matchPath("/audio/:id/history", path);
  if (history?.id) return <HistoryPage id={history.id} />;
  const recording = matchPath("/audio/:id", path);
  if (recording?.id) return <RecordingPage key={recording.id} id={recording.id} />;
  return (
    <>
      <h1>{t("notFound.title")}</h1>
      <p>{t("notFound.body")}</p>
      <Link to="/">{t("rec.back")}</Link>
    </>
  );
}

export function App() {
  const t = useT();
  const status = useSessionStatus();
  const location = useLocation();
  const wasSignedIn = useRef(false);
  const onSignIn = location.path === "/signin";

  useEffect(() => {
    if (status === "signedIn") wasSignedIn.current = true;
    if (status === "signedOut" && !onSignIn) {
      // Back here after signing in, with drafts kept in localStorage meanwhile.
      const reason = wasSignedIn.current ? "&expired=1" : "";
      navigate(`/signin?next=${encodeURIComponent(location.href)}${reason}`, { replace: true });
    }
    if (status === "signedIn" && onSignIn) navigate(safeNext(location.search.get("next")), { replace: true });
  }, [status, onSignIn, location.href, location.search]);

  // Move focus to the new page's heading, as a full page load would.
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(location.path);
  useEffect(() => {
    if (location.path === firstPath.current) return;
    firstPath.current = location.path;
    const heading = main.current?.querySelector("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }, [location.path]);

  const ready = status !== "unknown" && (status === "signedIn") !== onSignIn;
  return (
    <>
      <Header signedIn={status === "signedIn"} />
      <main id="main" ref={main}>
        {!ready ? (
          <p className="hint">{t("loading")}</p>
        ) : onSignIn ? (
          <SignIn expired={location.search.get("expired") === "1"} />
        ) : (
          <PageFailure message={t("error.pageFailed")} action={t("action.reload")} path={location.path}>
            <Suspense fallback={<p className="hint">{t("loading")}</p>}>
              <Page path={location.path} />
            </Suspense>
          </PageFailure>
        )}
      </main>
    </>
  );
}
