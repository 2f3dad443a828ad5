// Builds the widget in two minified IIFEs (ES2018) and reports their size gzipped:
//   dist/widget.js       on every page: socket.io-client, tracking, launcher, badge, invitations
//   dist/widget-chat.js  the chat panel, loaded by widget.js when the chat is first needed
//                        (it registers itself with window.Switchboard._chat)
// widget.js asks for widget-chat.js?v=<hash of its contents>, so a cached old widget.js never
// runs with a newer panel it does not know.
//   node build.mjs          production bundles
//   node build.mjs --watch  rebuild on change
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";

const watch = process.argv.includes("--watch");

// src/styles.js exports the widget's CSS as strings; minify them with esbuild's own CSS minifier
// so the bundles do not carry their indentation and comments.
const minifyCss = {
  name: "minify-css",
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]styles\.js$/ }, async (args) => {
      const mod = await import(pathToFileURL(args.path).href + "?t=" + Date.now());
      const out = [];
      for (const [name, css] of Object.entries(mod)) {
        const { code } = await esbuild.transform(css, { loader: "css", minify: true, target: "chrome80" });
        out.push(`export const ${name} = ${JSON.stringify(code.trim())};`);
      }
      return { contents: out.join("\n"), loader: "js" };
    });
  },
};

// engine.io-client bundles three transports (WebSocket, XHR long-polling, WebTransport); the
// widget uses the first two only (connection.js), so WebTransport is left out.
const twoTransports = {
  name: "two-transports",
  setup(build) {
    build.onLoad({ filter: /[\\/]engine\.io-client[\\/]build[\\/]esm[\\/]transports[\\/]index\.js$/ }, (args) => ({
      contents: 'import { XHR } from "./polling-xhr.js";\nimport { WS } from "./websocket.js";\n' +
        "export const transports = { websocket: WS, polling: XHR };\n",
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

const common = {
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2018",
  platform: "browser",
  legalComments: "none",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
};
const chatOptions = { ...common, entryPoints: ["src/chat.js"], outfile: "dist/widget-chat.js", plugins: [minifyCss] };
const entryOptions = (version) => ({
  ...common,
  entryPoints: ["src/index.js"],
  outfile: "dist/widget.js",
  define: { ...common.define, __CHAT_VERSION__: JSON.stringify(version) },
  plugins: [minifyCss, twoTransports],
});

const chatVersion = () => createHash("sha256").update(readFileSync("dist/widget-chat.js")).digest("hex").slice(0, 10);

function report() {
  let total = 0;
  for (const file of ["dist/widget.js", "dist/widget-chat.js"]) {
    const code = readFileSync(file);
    const gz = gzipSync(code, { level: 9 }).length;
    if (file === "dist/widget.js") total = gz;
    console.log(`${file}: ${(code.length / 1024).toFixed(1)} KB minified, ${(gz / 1024).toFixed(1)} KB gzipped (${gz} bytes)`);
  }
  console.log(`loaded before the chat is opened: dist/widget.js, ${total} bytes gzipped (budget 22528)`);
}

async function buildAll() {
  await esbuild.build(chatOptions);
  await esbuild.build(entryOptions(chatVersion()));
  report();
}

if (watch) {
  const rebuild = { name: "rebuild", setup: (b) => b.onEnd((r) => !r.errors.length && buildAll().catch((e) => console.error(e))) };
  const ctx = await esbuild.context({ ...common, entryPoints: ["src/index.js", "src/chat.js"], outdir: "/tmp/sb-widget-watch",
    plugins: [minifyCss, twoTransports, rebuild], define: { ...common.define, __CHAT_VERSION__: '"dev"' } });
  await ctx.watch();
  console.log("watching src/ …");
} else {
  await buildAll();
}
