// GraphiQL's docs search (@graphiql/plugin-doc-explorer) takes every change of its Combobox for a
// chosen result, but a headlessui v2 Combobox also reports a cleared input, as a null choice, and
// the search then throws on it ("Cannot use 'in' operator to search for 'field' in null") each
// time its text is cleared. build.mjs gives the search this module in place of
// @headlessui/react: the same components, with a Combobox that reports only actual choices.
import { forwardRef } from 'react';
import { Combobox as HeadlessCombobox } from '@headlessui/react';

export * from '@headlessui/react';

export const Combobox = forwardRef(function Combobox({ onChange, ...props }, ref) {
  const choose =
    onChange &&
    ((value) => {
      if (value !== null && value !== undefined) onChange(value);
    });
  return <HeadlessCombobox ref={ref} {...props} onChange={choose} />;
});
