const dir = process.env.DD_CORPUS_NODE || '/tmp/dd-prompt-corpus';
const { default: inquirer } = await import(`${dir}/node_modules/inquirer/dist/esm/index.js`);
const a = await inquirer.prompt([{ type: 'input', name: 'n', message: 'Project name', default: 'my-app' }]);
console.log('got ' + a.n);
