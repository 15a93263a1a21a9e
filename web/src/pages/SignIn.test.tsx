import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { accessToken, resetSessionForTests, sessionStatus } from "../auth/session";
import { SignIn } from "./SignIn";
import { fakeApi, renderWithClient } from "../test/api";

const sent = (resendAfter: number) => ({
  sendOtp: { __typename: "OtpSent", phoneNumber: "+998901234567", expiresIn: 300, resendAfter },
});

beforeEach(() => {
  setLang("en");
  resetSessionForTests();
});
afterEach(() => vi.useRealTimers());

describe("sign in", () => {
  it("formats the phone as typed and sends it in E.164", async () => {
    const api = fakeApi({ SendOtp: () => sent(60) });
    renderWithClient(<SignIn expired={false} />);
    const phone = screen.getByRole("textbox", { name: "Phone number" });
    expect(phone).toHaveValue("+998 ");
    await userEvent.type(phone, "901234567");
    expect(phone).toHaveValue("+998 90 123 45 67");
    await userEvent.click(screen.getByRole("button", { name: "Send code" }));
    expect(await screen.findByRole("textbox", { name: "Code" })).toHaveAttribute("autocomplete", "one-time-code");
    expect(api.of("SendOtp")[0]?.variables).toEqual({ phone: "+998901234567" });
    // Told back as it was typed, not in E.164.
    expect(screen.getByText("We sent a code to +998 90 123 45 67.")).toBeInTheDocument();
  });

  it("counts down from resendAfter before another code can be asked for", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const api = fakeApi({ SendOtp: () => sent(3) });
    renderWithClient(<SignIn expired={false} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Phone number" }), "901234567{Enter}");
    const resend = await screen.findByRole("button", { name: "New code in 0:03" });
    expect(resend).toBeDisabled();
    await act(async () => {
      vi.advanceTimersByTime(1100);
    });
    expect(screen.getByRole("button", { name: "New code in 0:02" })).toBeDisabled();
    await act(async () => {
      vi.advanceTimersByTime(2500);
    });
    const again = screen.getByRole("button", { name: "Send a new code" });
    expect(again).toBeEnabled();
    await userEvent.click(again);
    expect(api.of("SendOtp")).toHaveLength(2);
  });

  it("takes a pasted code with spaces, and signs in in browser mode", async () => {
    const api = fakeApi({
      SendOtp: () => sent(60),
      VerifyOtp: () => ({ verifyOtp: { __typename: "Token", accessToken: "tok-1", expiresIn: 900 } }),
    });
    renderWithClient(<SignIn expired={false} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Phone number" }), "901234567{Enter}");
    const code = await screen.findByRole("textbox", { name: "Code" });
    await userEvent.click(code);
    await userEvent.paste("123 456");
    expect(code).toHaveValue("123456");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await vi.waitFor(() => expect(sessionStatus()).toBe("signedIn"));
    expect(accessToken()).toBe("tok-1");
    expect(api.of("VerifyOtp")[0]?.variables).toEqual({ phone: "+998901234567", code: "123456" });
  });

  it("shows the server's message in the user's language", async () => {
    setLang("ru");
    const api = fakeApi({
      SendOtp: () => ({ sendOtp: { __typename: "InvalidPhoneNumber", code: "INVALID_PHONE_NUMBER", message: "Неверный номер" } }),
    });
    renderWithClient(<SignIn expired={false} />);
    await userEvent.type(screen.getByRole("textbox", { name: "Номер телефона" }), "12345678{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Неверный номер");
    expect(api.calls[0]?.headers.get("Accept-Language")).toBe("ru");
  });
});
