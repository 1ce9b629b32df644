const dir = process.env.DD_CORPUS_NODE || '/tmp/dd-prompt-corpus';
const { default: inquirer } = await import(`${dir}/node_modules/inquirer/dist/esm/index.js`);
const a = await inquirer.prompt([{ type: 'list', name: 'c', message: 'Pick a color', choices: ['red', 'green', 'blue'] }]);
console.log('got ' + a.c);
