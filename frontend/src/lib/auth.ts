// The access token for a gateway that requires one (JWT_SECRET): taken from the page's
// ?access_token= (then kept in localStorage and removed from the address bar) or from
// localStorage, and its subject, which the gateway uses as the user id.

import { USER_ID_RE } from "./protocol";

const TOKEN_KEY = "nexus.access_token";

/** The token to send, or null when the page has none (anonymous mode). */
export function accessToken(loc: { search: string } = window.location): string | null {
  try {
    const fromUrl = new URLSearchParams(loc.search).get("access_token");
    if (fromUrl) {
      localStorage.setItem(TOKEN_KEY, fromUrl);
      if (typeof window !== "undefined" && loc === window.location) {
        const u = new URL(window.location.href);
        u.searchParams.delete("access_token");
        window.history.replaceState(window.history.state, "", u.toString()); // not in history/bookmarks
      }
      return fromUrl;
    }
    return localStorage.getItem(TOKEN_KEY) || null;
  } catch {
    return null; // storage disabled: no token
  }
}

/** The "sub" claim of a JWT when it is a valid user id (not verified: the gateway does that). */
export function tokenSubject(token: string | null): string | null {
  const part = token?.split(".")[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as { sub?: unknown };
    return typeof json.sub === "string" && USER_ID_RE.test(json.sub) ? json.sub : null;
  } catch {
    return null;
  }
}
