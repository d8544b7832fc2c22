import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router';

import { useSessionStore } from './stores/session';

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for signed-out visitors (sign-in and sign-up). */
    guest?: boolean;
    /** Only for workspace admins and the owner. */
    admin?: boolean;
    title?: string;
  }
}

export function createAppRouter() {
  const router = createRouter({
    history: createWebHistory(),
    routes: [
      { path: '/signin', component: () => import('./views/SignInView.vue'), meta: { guest: true, title: 'Sign in' } },
      { path: '/signup', component: () => import('./views/SignUpView.vue'), meta: { guest: true, title: 'Sign up' } },
      {
        path: '/',
        component: () => import('./views/AppShell.vue'),
        children: [
          { path: '', name: 'home', component: () => import('./views/HomeView.vue'), meta: { title: 'Chats' } },
          {
            path: 'chats/:chatId(\\d+)',
            name: 'chat',
            component: () => import('./views/ChatView.vue'),
            props: (route) => ({ chatId: Number(route.params.chatId) }),
          },
          {
            path: 'browse',
            component: () => import('./views/BrowseChannelsView.vue'),
            meta: { title: 'Browse channels' },
          },
          { path: 'settings', component: () => import('./views/SettingsView.vue'), meta: { title: 'Settings' } },
          {
            path: 'invite',
            component: () => import('./views/InviteView.vue'),
            meta: { admin: true, title: 'Invite people' },
          },
        ],
      },
      { path: '/:pathMatch(.*)*', redirect: '/' },
    ],
  });

  router.beforeEach((to: RouteLocationNormalized) => {
    const session = useSessionStore();
    if (to.meta.guest) {
      return session.signedIn ? { path: '/' } : true;
    }
    if (!session.signedIn) {
      return to.fullPath === '/' ? { path: '/signin' } : { path: '/signin', query: { redirect: to.fullPath } };
    }
    if (to.meta.admin && !session.isAdmin) {
      return { path: '/' };
    }
    return true;
  });

  router.afterEach((to) => {
    if (to.meta.title) {
      document.title = `${to.meta.title} · Fechatter`;
    }
  });

  return router;
}
