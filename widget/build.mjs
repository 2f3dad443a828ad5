// Builds dist/widget.js: one minified IIFE (socket.io-client included), ES2018, and reports its
// size gzipped.   node build.mjs          production bundle
//                 node build.mjs --watch  rebuild on change
import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const watch = process.argv.includes("--watch");

// src/styles.js exports the widget's CSS as a string; minify that CSS with esbuild's own CSS
// minifier so the bundle does not carry its indentation and comments.
const minifyCss = {
  name: "minify-css",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]styles\.js$/ }, async (args) => {
      const { CSS } = await import(pathToFileURL(args.path).href + "?t=" + Date.now());
      const { code } = await esbuild.transform(CSS, { loader: "css", minify: true, target: "chrome80" });
      return { contents: `export const CSS = ${JSON.stringify(code.trim())};`, loader: "js" };
    });
  },
};

const options = {
  entryPoints: ["src/index.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2018",
  platform: "browser",
  outfile: "dist/widget.js",
  legalComments: "none",
  define: { "process.env.NODE_ENV": '"production"' },
  plugins: [minifyCss],
  logLevel: "warning",
};

function report() {
  const code = readFileSync("dist/widget.js");
  const gz = gzipSync(code, { level: 9 }).length;
  console.log(`dist/widget.js: ${(code.length / 1024).toFixed(1)} KB minified, ${(gz / 1024).toFixed(1)} KB gzipped (${gz} bytes)`);
}

if (watch) {
  const ctx = await esbuild.context({
    ...options,
    plugins: [...options.plugins, { name: "report", setup: (b) => b.onEnd((r) => !r.errors.length && report()) }],
  });
  await ctx.watch();
  console.log("watching src/ …");
} else {
  await esbuild.build(options);
  report();
}
