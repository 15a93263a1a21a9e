import { useId } from "react";
import { useLang, useT } from "../i18n";
import { LANGS, setLang, type Lang } from "../i18n/lang";
import { Link, useLocation } from "../router";

const LANG_NAMES: Record<Lang, string> = { uz: "Oʻzbekcha", ru: "Русский", en: "English" };

export function Header({ signedIn }: { signedIn: boolean }) {
  const t = useT();
  const lang = useLang();
  const langId = useId();
  const { path } = useLocation();
  const current = (to: string): "page" | undefined =>
    (to === "/" ? path === "/" || path.startsWith("/audio") : path.startsWith(to)) ? "page" : undefined;
  return (
    <header className="site-header">
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <Link to="/" className="brand">
        ovoz
      </Link>
      {signedIn && (
        <nav aria-label={t("nav.main")}>
          <Link to="/" aria-current={current("/")}>
            {t("nav.library")}
          </Link>
          <Link to="/account" aria-current={current("/account")}>
            {t("nav.account")}
          </Link>
        </nav>
      )}
      <div className="lang-switch">
        <label htmlFor={langId}>{t("lang.label")}</label>
        <select id={langId} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
          {LANGS.map((l) => (
            <option key={l} value={l} lang={l}>
              {LANG_NAMES[l]}
            </option>
          ))}
        </select>
      </div>
    </header>
  );
}
