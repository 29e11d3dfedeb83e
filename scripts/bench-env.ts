// What every benchmark prints beside its figures: the machine and the commit measured (one home: src/provenance.ts).
export { commit, machine } from '../src/provenance.ts';
