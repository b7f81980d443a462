/**
 * EC2-equivalent cost estimates from the instances.vantage.sh `instances.json` price data.
 *
 * A {@link PriceBook} maps scheduler partitions to EC2 instance types and prices a task by
 * `hours × hourly price × max(cpu share, memory share)`. When no price data can be had (offline and
 * no cache) every cost is `null` with a reason — never zero.
 */

export type {
  Estimate,
  EstimateInput,
  InstancePrice,
  InstanceRecord,
  LoadResult,
  PriceBook,
  PriceBookOptions,
  PriceType,
  RunCost,
  TaskCost,
  TaskCostInput,
} from './price-book.js';
export {
  CACHE_FILE_NAME,
  createPriceBook,
  DEFAULT_PRICING_SOURCE,
  PRICE_TYPES,
  parseInstances,
} from './price-book.js';
