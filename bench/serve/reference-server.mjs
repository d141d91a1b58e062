// The MCP TypeScript SDK's own Streamable HTTP server, set up the way the
// SDK's examples do (examples/server/simpleStreamableHttp): an Express app
// from createMcpExpressApp, one McpServer and one StreamableHTTPServerTransport
// per session (stateful, randomUUID session ids), POST/GET/DELETE on /mcp.
// It offers the same tools/list surface as airlock (generate, model_info);
// generate returns fixed text, so the figures are the SDK server's own cost.
// Prints "listening on http://127.0.0.1:PORT/mcp" once ready; logs nothing per
// request. Exits on SIGTERM/SIGINT.
import { randomUUID } from 'node:crypto';
import * as z from 'zod/v4';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const FIXED_TEXT = ' there was a little girl named Lily.';
const port = Number(process.argv[2] ?? 0);

function newServer() {
  const server = new McpServer({ name: 'sdk-reference', version: '1' });
  server.registerTool('generate', {
    title: 'Generate text',
    description: 'Generates a continuation of the prompt with the local language model.',
    inputSchema: {
      prompt: z.string().min(1).max(4096).describe('Text the model continues. The loaded model takes at most 511 prompt '
        + 'tokens (its context is 512 tokens); maxLength only caps the characters. A longer prompt is refused with an '
        + 'error naming both figures, unless truncate is "left".'),
      max_tokens: z.number().int().min(1).max(1024).optional().describe('Upper bound on generated tokens. The context '
        + 'bounds them too: a prompt of P tokens leaves room for 512 - P.'),
      temperature: z.number().min(0).max(2).optional().describe('Sampling temperature; 0 picks the most likely token.'),
      top_p: z.number().min(0).max(1).optional().describe('Nucleus sampling threshold.'),
      seed: z.number().int().min(0).max(9007199254740991).optional().describe('Sampler seed for reproducible output.'),
      truncate: z.enum(['none', 'left']).default('none').describe('What to do with a prompt longer than the model takes: '
        + '"none" refuses it, "left" drops its oldest tokens and keeps the newest (the result\'s _meta["airlock/usage"] '
        + 'says how many were dropped).'),
    },
    annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
    _meta: { 'airlock/limits': { context_length: 512, max_prompt_tokens: 511 } },
  }, async () => ({ content: [{ type: 'text', text: FIXED_TEXT }] }));
  server.registerTool('model_info', {
    title: 'Model information',
    description: 'Describes the language model loaded in the AI domain, with its context and prompt limits in tokens.',
    inputSchema: {},
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, async () => ({ content: [{ type: 'text', text: 'fixed' }] }));
  return server;
}

const transports = new Map(); // session id -> transport
const app = createMcpExpressApp();

app.post('/mcp', async (req, res) => {
  const sid = req.headers['mcp-session-id'];
  try {
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid) {
        res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
        return;
      }
      if (!isInitializeRequest(req.body)) {
        res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => { transports.set(id, transport); },
      });
      transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
      await newServer().connect(transport);
    }
    await transport.handleRequest(req, res, req.body);
  } catch (e) {
    if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
  }
});

const sessionRequest = async (req, res) => {
  const transport = transports.get(req.headers['mcp-session-id']);
  if (!transport) {
    res.status(req.headers['mcp-session-id'] ? 404 : 400).send('Invalid or missing session ID');
    return;
  }
  await transport.handleRequest(req, res);
};
app.get('/mcp', sessionRequest);
app.delete('/mcp', sessionRequest);

const http = app.listen(port, '127.0.0.1', (err) => {
  if (err) { console.error(`reference server: ${err.message}`); process.exit(1); }
  console.log(`listening on http://127.0.0.1:${http.address().port}/mcp`);
});
const stop = () => {
  for (const t of transports.values()) t.close().catch(() => {});
  http.closeAllConnections?.();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
