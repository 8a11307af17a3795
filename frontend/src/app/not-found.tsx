// The 404 page (exported as out/404.html, which the gateway can serve for unknown paths).
import Link from "next/link";

export default function NotFound() {
  return (
    <main className="grid min-h-dvh place-items-center bg-[radial-gradient(ellipse_at_top,rgba(124,58,237,0.25),transparent_60%)] px-6 text-center">
      <div>
        <p className="text-gradient text-7xl font-bold tracking-tight">404</p>
        <h1 className="mt-4 text-xl font-semibold text-white">This page does not exist</h1>
        <p className="mt-2 text-sm text-slate-400">The chat lives at the start page.</p>
        <Link
          href="/"
          className="mt-6 inline-flex rounded-xl bg-gradient-to-r from-violet-600 to-indigo-600 px-5 py-2.5 text-sm font-semibold text-white ring-1 ring-white/15 hover:brightness-110"
        >
          Open the chat
        </Link>
      </div>
    </main>
  );
}
