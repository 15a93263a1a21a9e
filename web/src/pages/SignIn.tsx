import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useMutation } from "urql";
import { graphql } from "../gql";
import { useT } from "../i18n";
import { startSession } from "../auth/session";
import { DEFAULT_PREFIX, formatPhone, nextPhoneValue, toE164 } from "../lib/phone";
import { useCountdown } from "../lib/useCountdown";
import { formatClock } from "../lib/format";
import { useDocumentTitle } from "../lib/useDocumentTitle";

const SendOtp = graphql(`
  mutation SendOtp($phone: String!) {
    sendOtp(phoneNumber: $phone) {
      __typename
      ... on OtpSent { phoneNumber expiresIn resendAfter }
      ... on RateLimited { retryAfter }
      ... on Error { code message }
    }
  }
`);

const VerifyOtp = graphql(`
  mutation VerifyOtp($phone: String!, $code: String!) {
    verifyOtp(phoneNumber: $phone, otpCode: $code, clientType: BROWSER) {
      __typename
      ... on Token { accessToken expiresIn }
      ... on RateLimited { retryAfter }
      ... on Error { code message }
    }
  }
`);

const CODE_LENGTH = 6;

export function SignIn({ expired }: { expired: boolean }) {
  const t = useT();
  useDocumentTitle(t("signin.title"));
  const phoneId = useId();
  const codeId = useId();
  const [phone, setPhone] = useState(DEFAULT_PREFIX);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const { remaining, start } = useCountdown();
  const [sending, sendOtp] = useMutation(SendOtp);
  const [verifying, verifyOtp] = useMutation(VerifyOtp);
  const codeRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (sentTo) codeRef.current?.focus();
  }, [sentTo]);

  const send = async (): Promise<void> => {
    const e164 = toE164(phone);
    if (e164.length < 8) {
      setError(t("signin.phoneRequired"));
      return;
    }
    setError(null);
    const result = await sendOtp({ phone: e164 });
    const answer = result.data?.sendOtp;
    if (!answer) {
      setError(t("error.network"));
      return;
    }
    switch (answer.__typename) {
      case "OtpSent":
        setSentTo(e164);
        setCode("");
        start(answer.resendAfter);
        break;
      case "RateLimited":
        setError(answer.message);
        start(answer.retryAfter);
        break;
      default:
        setError(answer.message);
    }
  };

  const onPhoneSubmit = (event: FormEvent): void => {
    event.preventDefault();
    void send();
  };

  const onCodeSubmit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (!sentTo) return;
    if (code.length !== CODE_LENGTH) {
      setError(t("signin.codeIncomplete"));
      return;
    }
    setError(null);
    const result = await verifyOtp({ phone: sentTo, code });
    const answer = result.data?.verifyOtp;
    if (!answer) {
      setError(t("error.network"));
      return;
    }
    if (answer.__typename === "Token") {
      // The session status changes and the app moves on to where the user was going.
      startSession(answer.accessToken, answer.expiresIn);
      return;
    }
    if (answer.__typename === "RateLimited") start(answer.retryAfter);
    setError(answer.message);
  };

  return (
    <section className="narrow">
      <h1>{t("signin.title")}</h1>
      {expired ? <p className="notice">{t("signin.sessionExpired")}</p> : <p>{t("signin.intro")}</p>}

      {!sentTo ? (
        <form onSubmit={onPhoneSubmit} noValidate>
          <div className="field">
            <label htmlFor={phoneId}>{t("signin.phone")}</label>
            <input
              id={phoneId}
              type="tel"
              inputMode="tel"
              autoComplete="tel"
              value={phone}
              aria-describedby={`${phoneId}-hint`}
              onChange={(e) => setPhone(nextPhoneValue(phone, e.target.value))}
            />
            <p id={`${phoneId}-hint`} className="hint">
              {t("signin.phoneHint")}
            </p>
          </div>
          <button type="submit" className="primary" disabled={sending.fetching || remaining > 0}>
            {t("signin.send")}
          </button>
          {remaining > 0 && <p className="hint">{t("signin.resendIn", { time: formatClock(remaining) })}</p>}
        </form>
      ) : (
        <form onSubmit={(e) => void onCodeSubmit(e)} noValidate>
          <p>{t("signin.codeSent", { phone: formatPhone(sentTo) })}</p>
          <div className="field">
            <label htmlFor={codeId}>{t("signin.code")}</label>
            <input
              id={codeId}
              ref={codeRef}
              type="text"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]*"
              className="code-input"
              value={code}
              onChange={(e) => setCode(e.target.value.replace(/\D/g, "").slice(0, CODE_LENGTH))}
            />
          </div>
          <button type="submit" className="primary" disabled={verifying.fetching}>
            {t("signin.submit")}
          </button>
          <div className="row">
            <button type="button" disabled={remaining > 0 || sending.fetching} onClick={() => void send()}>
              {remaining > 0 ? t("signin.resendIn", { time: formatClock(remaining) }) : t("signin.resend")}
            </button>
            <button
              type="button"
              className="link-button"
              onClick={() => {
                setSentTo(null);
                setError(null);
              }}
            >
              {t("signin.changeNumber")}
            </button>
          </div>
        </form>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
