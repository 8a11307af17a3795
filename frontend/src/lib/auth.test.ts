// Unit tests of the access token helpers.
import { beforeEach, describe, expect, it } from "vitest";
import { accessToken, tokenSubject } from "./auth";

function jwt(payload: object): string {
  const b64 = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(payload))}.sig`;
}

describe("tokenSubject", () => {
  it("reads sub when it is a valid user id", () => {
    expect(tokenSubject(jwt({ sub: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b", aud: "authenticated" }))).toBe(
      "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
    );
    expect(tokenSubject(jwt({ sub: "u1" }))).toBe("u1");
  });
  it("gives null for anything else", () => {
    expect(tokenSubject(null)).toBeNull();
    expect(tokenSubject("garbage")).toBeNull();
    expect(tokenSubject("a.!!!.c")).toBeNull();
    expect(tokenSubject(jwt({ sub: "bad user" }))).toBeNull();
    expect(tokenSubject(jwt({ sub: 42 }))).toBeNull();
    expect(tokenSubject(jwt({}))).toBeNull();
  });
});

describe("accessToken", () => {
  const store = new Map<string, string>();
  beforeEach(() => {
    store.clear();
    globalThis.localStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
      clear: () => store.clear(),
      key: () => null,
      length: 0,
    } as Storage;
  });
  it("takes the URL's token and keeps it", () => {
    expect(accessToken({ search: "?access_token=abc.def.ghi&x=1" })).toBe("abc.def.ghi");
    expect(accessToken({ search: "" })).toBe("abc.def.ghi");
  });
  it("is null without one", () => {
    expect(accessToken({ search: "?x=1" })).toBeNull();
  });
});
