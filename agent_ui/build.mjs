// Builds the agent console into dist/ (served by the app at /static/).
//   node build.mjs          production build (minified)
//   node build.mjs --watch  rebuild on change, with source maps
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

const root = path.dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");

// `import zh from "catalog:zh-CN"`: the message catalog of one language, merged at build time from
// every agent_ui/locales/<language>/*.json (one file per area of the staff side, English id →
// translation; a plural is {"other": …} or {"one": …, "other": …}). No catalog is downloaded at run time.
const catalogs = {
  name: "catalogs",
  setup(build) {
    build.onResolve({ filter: /^catalog:/ }, (args) => ({ path: args.path.slice("catalog:".length), namespace: "catalog" }));
    build.onLoad({ filter: /.*/, namespace: "catalog" }, (args) => {
      const dir = path.join(root, "locales", args.path);
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
      const merged = {};
      for (const file of files) {
        const entries = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
        for (const [id, text] of Object.entries(entries)) {
          merged[id] = text; // one translation per id: tests/unit/test_catalogs.py checks the files agree
        }
      }
      return { contents: JSON.stringify(merged), loader: "json", watchFiles: files.map((f) => path.join(dir, f)), watchDirs: [dir] };
    });
  },
};

const common = {
  plugins: [catalogs],
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

// Each file in src/pages/ is a page of its own (reports, wallboard, staffing …) → dist/<name>.js.
const pagesDir = path.join(root, "src/pages");
if (fs.existsSync(pagesDir)) {
  for (const name of fs.readdirSync(pagesDir).filter((f) => f.endsWith(".js")).sort()) {
    builds.push({
      ...common,
      entryPoints: [path.join(pagesDir, name)],
      outfile: path.join(root, "dist", name),
      format: "iife",
      platform: "browser",
      define: { "process.env.NODE_ENV": watch ? '"development"' : '"production"' },
    });
  }
}

if (watch) {
  for (const options of builds) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
  }
  console.log("watching agent_ui/src …");
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
