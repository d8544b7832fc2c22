import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';

import type { UserView } from '@/api/types';
import Composer from '@/components/Composer.vue';

function user(id: number, username: string, fullname: string): UserView {
  return {
    id,
    username,
    fullname,
    email: `${username}@example.com`,
    workspace_id: 1,
    role: 'member',
    status: 'active',
    created_at: '2026-01-01T00:00:00Z',
  };
}

const members = [user(2, 'bob', 'Bob Stone'), user(3, 'bea', 'Bea Park'), user(4, 'carl', 'Carl Diaz')];

function mountComposer() {
  return mount(Composer, { props: { members }, attachTo: document.body });
}

async function type(wrapper: ReturnType<typeof mountComposer>, text: string) {
  const textarea = wrapper.get('textarea');
  await textarea.setValue(text);
  const element = textarea.element as HTMLTextAreaElement;
  element.setSelectionRange(text.length, text.length);
  await textarea.trigger('input');
  return textarea;
}

describe('Composer', () => {
  it('sends on Enter and clears the text', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, '  hello there  ');
    await textarea.trigger('keydown', { key: 'Enter' });
    expect(wrapper.emitted('send')).toEqual([['hello there']]);
    expect((textarea.element as HTMLTextAreaElement).value).toBe('');
    wrapper.unmount();
  });

  it('keeps Shift+Enter for a new line', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, 'line one');
    await textarea.trigger('keydown', { key: 'Enter', shiftKey: true });
    expect(wrapper.emitted('send')).toBeUndefined();
    wrapper.unmount();
  });

  it('leaves Enter to an input method while composing', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, 'nihao');
    await textarea.trigger('keydown', { key: 'Enter', isComposing: true });
    expect(wrapper.emitted('send')).toBeUndefined();
    wrapper.unmount();
  });

  it('sends nothing for blank text', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, '   ');
    await textarea.trigger('keydown', { key: 'Enter' });
    expect(wrapper.emitted('send')).toBeUndefined();
    wrapper.unmount();
  });

  it('opens the member picker on @ and filters it', async () => {
    const wrapper = mountComposer();
    await type(wrapper, 'hi @b');
    const options = wrapper.findAll('[role="option"]');
    expect(options.map((option) => option.text())).toEqual(['Bob Stone@bob', 'Bea Park@bea']);
    expect(wrapper.get('textarea').attributes('aria-expanded')).toBe('true');
    wrapper.unmount();
  });

  it('picks a member with the arrow keys and Enter', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, 'hi @b');
    await textarea.trigger('keydown', { key: 'ArrowDown' });
    expect(wrapper.findAll('[role="option"]')[1]!.attributes('aria-selected')).toBe('true');
    await textarea.trigger('keydown', { key: 'Enter' });
    await nextTick();
    expect((textarea.element as HTMLTextAreaElement).value).toBe('hi @bea ');
    expect(wrapper.emitted('send')).toBeUndefined();
    expect(wrapper.find('[role="listbox"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('closes the picker on Escape', async () => {
    const wrapper = mountComposer();
    const textarea = await type(wrapper, '@c');
    expect(wrapper.find('[role="listbox"]').exists()).toBe(true);
    await textarea.trigger('keydown', { key: 'Escape' });
    expect(wrapper.find('[role="listbox"]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('emits typing at most every 3 seconds', async () => {
    const wrapper = mountComposer();
    await type(wrapper, 'a');
    await type(wrapper, 'ab');
    await type(wrapper, 'abc');
    expect(wrapper.emitted('typing')).toHaveLength(1);
    wrapper.unmount();
  });

  it('cancels a reply on Escape', async () => {
    const wrapper = mount(Composer, { props: { members, replyingTo: 'Bob Stone' } });
    expect(wrapper.text()).toContain('Replying to Bob Stone');
    await wrapper.get('textarea').trigger('keydown', { key: 'Escape' });
    expect(wrapper.emitted('cancel-reply')).toHaveLength(1);
  });
});
