// Builds the agent console into dist/ (served by the app at /static/).
//   node build.mjs          production build (minified)
//   node build.mjs --watch  rebuild on change, with source maps
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");

const common = {
  bundle: true,
  minify: !watch,
  sourcemap: watch ? "linked" : false,
  target: "es2019",
  logLevel: "info",
  legalComments: "none",
};

const builds = [
  {
    ...common,
    entryPoints: [path.join(root, "src/console.js")],
    outfile: path.join(root, "dist/console.js"),
    format: "iife",
    platform: "browser",
    define: { "process.env.NODE_ENV": watch ? '"development"' : '"production"' },
  },
  {
    ...common,
    entryPoints: [path.join(root, "src/console.css")],
    outfile: path.join(root, "dist/console.css"),
    // Keep CSS custom properties and modern selectors; es2019 is for the JS.
    target: ["chrome90", "firefox88", "safari14", "edge90"],
  },
];

if (watch) {
  for (const options of builds) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
  console.log("watching agent_ui/src …");
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
