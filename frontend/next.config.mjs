// Next.js config: a fully static export into out/, served by the gateway at "/".
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "export",
  // The gateway serves plain files: /index.html, /404.html, /_next/static/...
  trailingSlash: false,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  // No ESLint in this package; type checking still runs during `next build`.
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
