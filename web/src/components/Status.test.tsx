import { act, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { setLang } from "../i18n/lang";
import { QueueInfo } from "./Status";

describe("QueueInfo", () => {
  afterEach(() => act(() => setLang("uz")));

  it("says the place in the queue and a rough wait, in each language", () => {
    setLang("en");
    const { container, rerender } = render(<QueueInfo position={3} eta={125} />);
    expect(container.textContent).toBe("3rd in queue · about 2 min");
    rerender(<QueueInfo position={1} eta={30} />);
    expect(container.textContent).toBe("1st in queue · under a minute");
    act(() => setLang("ru"));
    rerender(<QueueInfo position={2} eta={3900} />);
    expect(container.textContent).toBe("2-й в очереди · примерно 1 ч 5 мин");
    act(() => setLang("uz"));
    rerender(<QueueInfo position={12} eta={600} />);
    expect(container.textContent).toBe("navbatda 12-oʻrinda · taxminan 10 daqiqa");
  });

  it("shows the ETA alone while processing, and nothing once both are null", () => {
    setLang("en");
    const { container, rerender } = render(<QueueInfo position={null} eta={90} />);
    expect(screen.getByText("about 2 min")).toBeTruthy();
    rerender(<QueueInfo position={null} eta={null} />);
    expect(container.textContent).toBe("");
  });
});
