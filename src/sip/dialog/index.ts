export {
  Dialog, dialogKey, TARGET_REFRESH_METHODS,
  type DialogId, type DialogRole, type DialogState, type RequestOptions, type RequestVerdict, type UacOptions, type UasOptions,
} from './dialog.js';
export { DialogTable } from './table.js';
export { newBranch, newTag } from './ids.js';
export { destination, requestUriOf, routeSetFrom, type Destination, type RouteEntry } from './route-set.js';
