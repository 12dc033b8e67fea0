/** The dialplan: Asterisk-style contexts and patterns compiled to the engine's verbs. */
export { compileDialplan, Dialplan, type DialplanMatch, type RouteMatch } from './dialplan.js';
export { compileSteps, VERB_NAMES, type CompileScope } from './compile.js';
export { comparePatterns, matches, parsePattern, PatternError, type Pattern } from './pattern.js';
export { checkReferences, hasVariables, lookupIn, slice, substitute, type VarLookup } from './substitute.js';
export { isOpen, localTime, type LocalTime } from './calendar.js';
