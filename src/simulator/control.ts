import { z } from 'zod';
import { ApiError } from './errors.js';
import { type FaultInjector, faultRatesSchema, faultSpecSchema } from './faults.js';
import { type Exchange, parseJson, readBody, sendJson } from './http.js';

/** Out-of-band control under `/_sim/`: no API key, never forwarded by a gateway. */
export const controlPrefix = '/_sim/';

const faultsBody = z.object({
  script: z.array(faultSpecSchema).optional(),
  rates: faultRatesSchema.optional(),
  /** Add to the pending script instead of replacing it. */
  append: z.boolean().optional(),
});
const limitsBody = z.union([
  z.object({ tier: z.string() }),
  z.object({
    rpm: z.number().int().positive(),
    itpm: z.number().int().positive(),
    otpm: z.number().int().positive(),
  }),
]);
const batchTimingBody = z.object({
  processingMs: z.number().int().nonnegative().optional(),
  cancelMs: z.number().int().nonnegative().optional(),
});
const spendCapBody = z.object({ usd: z.number().nonnegative().nullable() });

const faultsView = (faults: FaultInjector) => ({ pending: faults.pending(), rates: faults.currentRates() });

/** Replaces (or with `append`, extends) a fault script and sets the random rates. */
function setFaults(faults: FaultInjector, body: z.infer<typeof faultsBody>) {
  if (body.script) {
    if (body.append) faults.append(body.script as never);
    else faults.script(body.script as never);
  }
  if (body.rates) faults.setRates(body.rates);
  return faultsView(faults);
}

export async function handleControl(exchange: Exchange): Promise<void> {
  const { state } = exchange;
  const route = `${exchange.req.method} ${exchange.url.pathname.slice(controlPrefix.length - 1)}`;
  switch (route) {
    case 'GET /health':
      return sendJson(exchange, 200, { ok: true });
    case 'GET /counters':
      return sendJson(exchange, 200, state.counters.snapshot(state.spend.spentUsd));
    case 'POST /reset':
      state.resetAll();
      return sendJson(exchange, 200, { ok: true });
    case 'GET /faults':
      return sendJson(exchange, 200, faultsView(state.faults));
    case 'DELETE /faults':
      state.faults.clear();
      return sendJson(exchange, 200, faultsView(state.faults));
    case 'POST /faults':
      return sendJson(exchange, 200, setFaults(state.faults, await parseBody(exchange, faultsBody)));
    case 'POST /batch-faults':
      // Faults for Message Batches requests: a status fault makes one request's result `errored`.
      return sendJson(exchange, 200, setFaults(state.batchFaults, await parseBody(exchange, faultsBody)));
    case 'POST /batch-timing': {
      const body = await parseBody(exchange, batchTimingBody);
      state.batches.setTiming(body);
      return sendJson(exchange, 200, state.batches.timing);
    }
    case 'POST /limits': {
      const body = await parseBody(exchange, limitsBody);
      try {
        state.setLimits(body);
      } catch (error) {
        throw new ApiError(400, (error as Error).message);
      }
      return sendJson(exchange, 200, { ok: true });
    }
    case 'POST /spend-cap': {
      const body = await parseBody(exchange, spendCapBody);
      state.spend.setCap(body.usd ?? undefined);
      return sendJson(exchange, 200, { ok: true });
    }
    default:
      throw new ApiError(404, `no control endpoint ${route}`);
  }
}

async function parseBody<T extends z.ZodType>(exchange: Exchange, schema: T): Promise<z.infer<T>> {
  const parsed = schema.safeParse(parseJson(await readBody(exchange.req)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}
