import { ensureTinyModel, ensureTinyModel46Paths } from './libs/model/src/ensure-tiny-model.js';
console.log(await ensureTinyModel()); console.log((await ensureTinyModel46Paths()).model);
