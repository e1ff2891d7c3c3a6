// Sign-in: the demo picker on embedded defaults (dev only), or a pasted access token.
import { api } from "./api";
import { h } from "./dom";
import { t } from "./i18n";

interface DemoAccount {
  userId: string;
  name: string;
  role: string;
  token: string;
}

export function signInView(useToken: (token: string) => boolean, notice: string | null): HTMLElement {
  const error = h("p", { class: "form-error", role: "alert", id: "token-error" });
  const input = h("textarea", {
    id: "token-input",
    rows: 3,
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "token-help token-error",
  });
  const form = h("form", { class: "token-form" },
    h("label", { for: "token-input", i18n: "pasteToken" }),
    h("p", { id: "token-help", class: "help", i18n: "pasteTokenHelp" }),
    input,
    h("button", { type: "submit", class: "primary", i18n: "signIn" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!useToken(input.value.trim())) {
      error.textContent = t("invalidToken");
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
  const demo = h("section", { class: "demo-accounts", hidden: true, "aria-labelledby": "demo-title" });
  const view = h("main", { id: "main", class: "signin", tabindex: -1 },
    h("h2", { i18n: "signInTitle" }),
    notice ? h("p", { class: "notice", role: "status" }, notice) : null,
    demo, form, error);
  void api<{ accounts: DemoAccount[] }>("GET", "/api/v1/dev/demo-accounts")
    .then(({ accounts }) => {
      demo.append(
        h("h3", { id: "demo-title", i18n: "signInDemo" }),
        h("ul", {}, ...accounts.map((account) =>
          h("li", {}, h("button", {
            type: "button",
            class: "demo-account",
            "data-role": account.role,
            onclick: () => useToken(account.token),
          },
            h("span", { class: "name" }, account.name),
            h("span", { class: "role", i18n: account.role === "DOCTOR" ? "doctor" : "patient" }))))));
      demo.hidden = false;
    })
    .catch(() => undefined); // not offered (production, or serve without --demo)
  return view;
}
